//! The `ebpf-layout` binary: everything lives in the library's `cli` module.

fn main() -> std::process::ExitCode {
    ebpf_layout::cli::run_from_iter(std::env::args_os())
}
