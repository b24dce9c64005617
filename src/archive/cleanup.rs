//! Removing an archive's temporary file when the process is interrupted.
//!
//! The archive writer's temporary file (`.NAME.PID-XXXXXX.tmp` beside the destination)
//! is removed when dropped, but SIGINT, SIGTERM and SIGHUP kill the process without
//! running drops. While at least one temporary file is registered here, a thread waits
//! for those signals; when one arrives it removes every registered file and then lets
//! the signal take its default action (the process ends as killed by it, exit status
//! included). Once no file is registered, the thread stops and the signals are
//! unregistered, so the rest of the program — the loader's own Ctrl-C handling included
//! — sees them as before.
//!
//! SIGKILL and power loss cannot be caught: the next write to the same folder removes
//! the temporary files of dead processes (see `remove_stale_temps`).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::thread::JoinHandle;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::{Handle, Signals};

/// The signals that end a command.
const SIGNALS: [i32; 3] = [SIGINT, SIGTERM, SIGHUP];

struct Watcher {
    handle: Handle,
    thread: JoinHandle<()>,
}

struct Registry {
    paths: Vec<PathBuf>,
    watcher: Option<Watcher>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    paths: Vec::new(),
    watcher: None,
});

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// A temporary file removed if the process is interrupted while this value lives.
/// Dropping it only stops watching (the file itself is removed or renamed by its owner).
#[derive(Debug)]
pub(crate) struct Registered {
    path: PathBuf,
}

/// Creates a file with `create` and watches it (its path given by `path_of`): SIGINT,
/// SIGTERM or SIGHUP remove it before the process ends. The handlers are installed
/// before the file exists and the registry is held while it is created, so a signal at
/// any instant finds it registered. Fails if `create` fails or the handlers cannot be
/// installed (the file, if created, is then dropped).
pub(crate) fn create_watched<T>(
    create: impl FnOnce() -> io::Result<T>,
    path_of: impl Fn(&T) -> &Path,
) -> io::Result<(T, Registered)> {
    let mut registry = registry();
    if registry.watcher.is_none() {
        let mut signals = Signals::new(SIGNALS)?;
        let handle = signals.handle();
        let thread = std::thread::Builder::new()
            .name("archive-cleanup".into())
            .spawn(move || {
                for signal in signals.forever() {
                    interrupted(signal);
                }
                // Closed: a signal that arrived meanwhile still ends the process.
                for signal in signals.pending() {
                    interrupted(signal);
                }
            })?;
        registry.watcher = Some(Watcher { handle, thread });
    }
    let created = match create() {
        Ok(created) => created,
        Err(e) => {
            let watcher = registry
                .paths
                .is_empty()
                .then(|| registry.watcher.take())
                .flatten();
            drop(registry);
            stop(watcher);
            return Err(e);
        }
    };
    let path = path_of(&created).to_path_buf();
    registry.paths.push(path.clone());
    Ok((created, Registered { path }))
}

fn stop(watcher: Option<Watcher>) {
    if let Some(watcher) = watcher {
        watcher.handle.close();
        let _ = watcher.thread.join();
    }
}

/// Removes every registered file, then gives `signal` its default action.
fn interrupted(signal: i32) {
    let registry = registry();
    for path in &registry.paths {
        let _ = std::fs::remove_file(path);
    }
    // Still holding the lock: no writer can register or commit meanwhile.
    let _ = signal_hook::low_level::emulate_default_handler(signal);
    drop(registry);
}

impl Drop for Registered {
    fn drop(&mut self) {
        let watcher = {
            let mut registry = registry();
            if let Some(i) = registry.paths.iter().position(|p| *p == self.path) {
                registry.paths.swap_remove(i);
            }
            if !registry.paths.is_empty() {
                return;
            }
            registry.watcher.take()
        };
        stop(watcher);
    }
}
