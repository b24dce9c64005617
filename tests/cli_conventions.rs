//! Issue #16, the command line a newcomer meets: shell completion run through bash itself,
//! options recognised wherever they are written, hints for the usual mistakes, one output
//! convention (`--json`, `-o` a path), extract and `inspect --raw`/`--config`.

use std::process::Command as StdCommand;

use predicates::prelude::*;
use predicates::str::contains;

use crate::util::*;

/// What bash's completion function offers for `words`, the last of which is the word
/// being completed, using the script `ebpf-layout completions bash` prints.
fn bash_complete(words: &[&str]) -> Vec<String> {
    let bin = assert_cmd::cargo::cargo_bin("ebpf-layout");
    let quoted: Vec<String> = words
        .iter()
        .map(|w| format!("'{}'", w.replace('\'', r"'\''")))
        .collect();
    let script = format!(
        r#"source <('{bin}' completions bash) || exit 3
spec=$(complete -p ebpf-layout) || exit 4
fn=${{spec#*-F }}; fn=${{fn%% *}}
COMP_WORDS=({words}); COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
COMP_LINE="${{COMP_WORDS[*]}}"; COMP_POINT=${{#COMP_LINE}}
"$fn" ebpf-layout "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}""#,
        bin = bin.display(),
        words = quoted.join(" "),
    );
    let out = StdCommand::new("bash")
        .arg("-c")
        .arg(&script)
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "bash failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_completes_subcommand_names() {
    let got = bash_complete(&["ebpf-layout", "ver"]);
    assert_eq!(got, ["verify"]);
}

#[test]
fn bash_completes_the_options_of_a_subcommand() {
    let got = bash_complete(&["ebpf-layout", "verify", "--st"]);
    assert_eq!(got, ["--strict"]);
    let got = bash_complete(&["ebpf-layout", "inspect", "bundle", "--j"]);
    assert_eq!(got, ["--json"]);
    let got = bash_complete(&["ebpf-layout", "pack", "--anno"]);
    assert_eq!(got, ["--annotation"]);
}

#[test]
fn bash_completes_the_values_of_an_option_and_a_positional() {
    let got = bash_complete(&["ebpf-layout", "completions", "z"]);
    assert_eq!(got, ["zsh"]);
    // At a positional's place bash offers the options too; the values are all there.
    let mut got = bash_complete(&["ebpf-layout", "completions", ""]);
    got.retain(|w| !w.starts_with('-'));
    got.sort();
    assert_eq!(got, ["bash", "elvish", "fish", "powershell", "zsh"]);
    let mut got = bash_complete(&["ebpf-layout", "pack", "a.o", "--format", ""]);
    got.sort();
    assert_eq!(got, ["bee", "bpfman"]);
}

#[test]
fn zsh_and_fish_completions_name_subcommand_options() {
    for shell in ["zsh", "fish"] {
        ebpf_layout()
            .args(["completions", shell])
            .assert()
            .success()
            .stdout(contains("strict").and(contains("annotation")));
    }
}

#[test]
fn an_unknown_option_before_the_reference_is_named_as_an_unknown_option() {
    let d = Dir::new();
    let bundle = d.path("bundle");
    pack(&bundle, &["tp_counter.bpf.o"]);
    ebpf_layout()
        .arg("list")
        .arg("--bogus")
        .arg(&bundle)
        .assert()
        .code(2)
        .stderr(contains("unknown option --bogus").and(contains("unexpected argument").not()));
    ebpf_layout()
        .arg("inspect")
        .arg("--jsn")
        .arg(format!("{}:tp_counter", bundle.display()))
        .assert()
        .code(2)
        .stderr(contains("unknown option --jsn").and(contains("--json")));
}
