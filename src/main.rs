//! The `ebpf-layout` binary: everything lives in the library's `cli` module.

fn main() -> std::process::ExitCode {
    restore_sigpipe();
    ebpf_layout::cli::run_from_iter(std::env::args_os())
}

/// Rust ignores SIGPIPE, so `ebpf-layout list | head` would end in a "failed printing to
/// stdout" panic. A command-line tool should just stop quietly when its reader goes away,
/// as every Unix tool does.
#[allow(unsafe_code)]
fn restore_sigpipe() {
    // SAFETY: called first thing in main, before any other thread exists; SIG_DFL is a
    // valid disposition for SIGPIPE and no Rust code relies on it being ignored.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
