//! Ctrl-C (SIGINT) and SIGTERM while maps are displayed: stop cleanly, so that everything is
//! detached by the normal drop path.
//!
//! While a display runs, the signals only set a flag that the display loop polls. Outside
//! (no display running) they keep their default action, terminating the process: a process-wide
//! "idle" flag turns signal-hook's emulation of the default action on and off.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::SigId;

use super::errors::LoadError;

/// The signals that stop a display.
const STOP_SIGNALS: [i32; 2] = [SIGINT, SIGTERM];

/// True when no display is running: the signals then terminate as usual.
static IDLE: OnceLock<Arc<AtomicBool>> = OnceLock::new();
/// How many displays are running (loads may run on several threads).
static RUNNING: Mutex<usize> = Mutex::new(0);

/// While alive, SIGINT/SIGTERM set [`Interrupt::requested`] instead of terminating.
pub(crate) struct Interrupt {
    flag: Arc<AtomicBool>,
    ids: Vec<SigId>,
}

impl Interrupt {
    /// Starts catching the stop signals.
    pub(crate) fn catch() -> Result<Self, LoadError> {
        let idle = IDLE.get_or_init(|| {
            let idle = Arc::new(AtomicBool::new(true));
            for signal in STOP_SIGNALS {
                // Registered first, so it runs before any flag action.
                let _ = signal_hook::flag::register_conditional_default(signal, Arc::clone(&idle));
            }
            idle
        });
        {
            let mut running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
            *running += 1;
            idle.store(false, Ordering::SeqCst);
        }
        let flag = Arc::new(AtomicBool::new(false));
        let mut interrupt = Interrupt {
            flag: Arc::clone(&flag),
            ids: Vec::new(),
        };
        for signal in STOP_SIGNALS {
            let id = signal_hook::flag::register(signal, Arc::clone(&flag))
                .map_err(|e| LoadError::io("installing the Ctrl-C handler", e))?;
            interrupt.ids.push(id);
        }
        Ok(interrupt)
    }

    /// Whether a stop signal arrived.
    pub(crate) fn requested(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}

impl Drop for Interrupt {
    fn drop(&mut self) {
        for id in self.ids.drain(..) {
            signal_hook::low_level::unregister(id);
        }
        let mut running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        *running = running.saturating_sub(1);
        if *running == 0 {
            if let Some(idle) = IDLE.get() {
                idle.store(true, Ordering::SeqCst);
            }
        }
    }
}
