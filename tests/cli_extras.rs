//! Shell completions, man pages, and the progress line staying off pipes.

use predicates::prelude::*;
use predicates::str::contains;

use crate::util::*;

#[test]
fn completions_are_generated_from_the_real_command_line() {
    for shell in ["bash", "zsh", "fish"] {
        ebpf_layout()
            .args(["completions", shell])
            .assert()
            .success()
            .stdout(
                contains("verify")
                    .and(contains("pack"))
                    .and(contains("strict")),
            );
    }
    ebpf_layout().args(["completions", "tcsh"]).assert().code(2);
}

#[test]
fn man_pages_cover_every_command() {
    ebpf_layout()
        .arg("man")
        .assert()
        .success()
        .stdout(contains(".TH ebpf-layout 1").and(contains("verify")));
    let d = Dir::new();
    ebpf_layout()
        .arg("man")
        .arg("--dir")
        .arg(d.root())
        .assert()
        .success();
    for page in [
        "ebpf-layout.1",
        "ebpf-layout-pack.1",
        "ebpf-layout-verify.1",
        "ebpf-layout-copy.1",
    ] {
        let text = std::fs::read_to_string(d.path(page)).unwrap();
        assert!(text.contains(".TH"), "{page}");
    }
}

#[test]
fn no_progress_line_is_written_to_a_pipe() {
    let d = Dir::new();
    let out = d.path("bundle.tar.gz");
    pack(
        &out,
        &["tp_counter.bpf.o", "xdp_count.bpf.o", "multi_prog.bpf.o"],
    );
    let assert = ebpf_layout().arg("verify").arg(&out).assert().success();
    assert!(
        assert.get_output().stderr.is_empty(),
        "stderr: {:?}",
        String::from_utf8_lossy(&assert.get_output().stderr)
    );
}
