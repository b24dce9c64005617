//! A progress line for long work: only on a terminal, only after the work has run for a
//! moment, never with `--quiet`, and gone when the work ends.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::render::human_size;
use crate::progress::Progress;

/// Work shorter than this shows nothing.
const QUIET_FOR: Duration = Duration::from_millis(700);
/// How often the line is redrawn.
const TICK: Duration = Duration::from_millis(120);

/// Shows bytes hashed and throughput on standard error while alive.
pub struct ProgressLine {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ProgressLine {
    /// Starts showing progress for `what` ("verifying bundle.tar"), as counted by
    /// `counted`, unless `quiet` or standard error is not a terminal.
    pub fn start(what: String, counted: Progress, quiet: bool) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        if quiet || !std::io::stderr().is_terminal() {
            return Self { stop, thread: None };
        }
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let start = counted.hashed();
            let mut waited = Duration::ZERO;
            while waited < QUIET_FOR {
                if flag.load(Ordering::Relaxed) {
                    return;
                }
                std::thread::sleep(TICK);
                waited += TICK;
            }
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg}, {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            let began = std::time::Instant::now() - waited;
            while !flag.load(Ordering::Relaxed) {
                let bytes = counted.hashed() - start;
                let rate = bytes as f64 / began.elapsed().as_secs_f64().max(0.001);
                bar.set_message(format!(
                    "{what}: {} hashed ({}/s)",
                    human_size(bytes),
                    human_size(rate as u64)
                ));
                bar.tick();
                std::thread::sleep(TICK);
            }
            bar.finish_and_clear();
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for ProgressLine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
