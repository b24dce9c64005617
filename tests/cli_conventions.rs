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

/// A layout with tp_counter and xdp_count, and the same as bundle.tar.
fn bundles(d: &Dir) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = d.path("bundle");
    let tar = d.path("bundle.tar");
    pack(&dir, &["tp_counter.bpf.o", "xdp_count.bpf.o"]);
    pack(&tar, &["tp_counter.bpf.o", "xdp_count.bpf.o"]);
    (dir, tar)
}

#[test]
fn a_skopeo_transport_prefix_is_named_with_the_reference_to_use_instead() {
    let d = Dir::new();
    let (_, tar) = bundles(&d);
    for prefix in ["oci:", "oci-archive:"] {
        ebpf_layout()
            .current_dir(d.root())
            .args(["inspect", &format!("{prefix}bundle.tar:tp_counter")])
            .assert()
            .code(2)
            .stderr(contains(format!(
                "drop the {prefix} prefix: bundle.tar:tp_counter"
            )));
    }
    assert!(tar.is_file());
}

#[test]
fn a_slash_before_the_name_suggests_path_colon_name() {
    let d = Dir::new();
    bundles(&d);
    for store in ["bundle.tar", "bundle"] {
        ebpf_layout()
            .current_dir(d.root())
            .args(["list", &format!("{store}/tp_counter")])
            .assert()
            .code(2)
            .stderr(contains(format!("use {store}:tp_counter")));
    }
}

#[test]
fn a_misspelt_name_gets_did_you_mean_and_is_a_usage_error_in_verify() {
    let d = Dir::new();
    let (dir, tar) = bundles(&d);
    for command in ["inspect", "verify", "extract"] {
        let mut c = ebpf_layout();
        c.arg(command).arg(format!("{}:tp_countr", tar.display()));
        if command == "extract" {
            c.arg("-o").arg(d.path("out.o"));
        }
        c.assert().code(2).stderr(
            contains("no image named \"tp_countr\"").and(contains("did you mean tp_counter?")),
        );
    }
    let out = ebpf_layout()
        .args(["verify", "--json"])
        .arg(format!("{}:xdp_cont", dir.display()))
        .assert()
        .code(2)
        .get_output()
        .stdout
        .clone();
    let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(json["unusable"][0]["hint"], "did you mean xdp_count?");
    assert!(!d.path("out.o").exists());
}

#[test]
fn a_bpf_object_where_an_image_is_expected_says_pack_it_first() {
    let object = testdata("tp_counter.bpf.o");
    for command in ["inspect", "list", "verify"] {
        ebpf_layout()
            .arg(command)
            .arg(&object)
            .assert()
            .code(2)
            .stderr(contains("this is a BPF object").and(contains("pack it first")));
    }
}

#[test]
fn a_missing_input_is_reported_as_missing() {
    let d = Dir::new();
    ebpf_layout()
        .arg("list")
        .arg(d.path("nothere"))
        .assert()
        .code(2)
        .stderr(contains("nothere: no such file or directory").and(contains("not an OCI").not()));
}

#[test]
fn pack_refuses_an_output_named_for_a_compression_it_does_not_write() {
    let d = Dir::new();
    for name in ["x.tar.zst", "x.tar.xz", "x.zip"] {
        ebpf_layout()
            .arg("pack")
            .arg(testdata("tp_counter.bpf.o"))
            .arg("-o")
            .arg(d.path(name))
            .assert()
            .code(2)
            .stderr(contains("archives are not written").and(contains(".tar.gz")));
        assert!(!d.path(name).exists(), "{name} was created");
    }
    let (dir, _) = bundles(&d);
    ebpf_layout()
        .arg("copy")
        .arg(&dir)
        .arg(d.path("copy.tar.xz"))
        .assert()
        .code(2)
        .stderr(contains("archives are not written"));
    assert!(!d.path("copy.tar.xz").exists());
}

#[cfg(feature = "loader")]
#[test]
fn load_takes_json_a_display_mode_and_a_duration_with_a_unit() {
    let d = Dir::new();
    let missing = d.path("missing");
    // The options parse: what fails is the missing reference, after parsing.
    for args in [
        vec!["--duration", "3s", "--json"],
        vec!["--duration", "500ms", "--display", "text"],
        vec!["--duration", "2.5", "--display", "table"],
    ] {
        ebpf_layout()
            .arg("load")
            .arg(&missing)
            .args(&args)
            .assert()
            .code(2)
            .stderr(contains("missing: no such file or directory"));
    }
    // -o/--output is a path everywhere, so load has none; --json and --display exclude
    // each other.
    ebpf_layout()
        .arg("load")
        .arg(&missing)
        .args(["--output", "json"])
        .assert()
        .code(2)
        .stderr(contains("unknown option --output"));
    ebpf_layout()
        .arg("load")
        .arg(&missing)
        .args(["--json", "--display", "text"])
        .assert()
        .code(2)
        .stderr(contains("cannot be used with"));
}

#[test]
fn extract_writes_the_packed_object_byte_for_byte_and_keeps_an_existing_file() {
    let d = Dir::new();
    let (dir, tar) = bundles(&d);
    let original = std::fs::read(testdata("tp_counter.bpf.o")).unwrap();
    for store in [&dir, &tar] {
        let out = d.path("tp.o");
        let _ = std::fs::remove_file(&out);
        ebpf_layout()
            .arg("extract")
            .arg(format!("{}:tp_counter", store.display()))
            .arg("-o")
            .arg(&out)
            .assert()
            .success();
        assert_eq!(std::fs::read(&out).unwrap(), original);
    }
    let out = d.path("tp.o");
    std::fs::write(&out, b"mine").unwrap();
    ebpf_layout()
        .arg("extract")
        .arg(format!("{}:tp_counter", tar.display()))
        .arg("-o")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(contains("exists").and(contains("--force")));
    assert_eq!(std::fs::read(&out).unwrap(), b"mine");
    let stdout = ebpf_layout()
        .arg("extract")
        .arg(format!("{}:xdp_count", tar.display()))
        .args(["-o", "-"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(stdout, std::fs::read(testdata("xdp_count.bpf.o")).unwrap());
    ebpf_layout()
        .arg("extract")
        .arg(format!("{}:xdp_count", tar.display()))
        .arg("-o")
        .arg(&out)
        .arg("--force")
        .assert()
        .success();
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(testdata("xdp_count.bpf.o")).unwrap()
    );
    let leftovers: Vec<_> = std::fs::read_dir(d.root())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".ebpf-layout"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn extract_refuses_a_damaged_object_and_an_unsigned_image_with_key() {
    let d = Dir::new();
    let (dir, _) = bundles(&d);
    let original = std::fs::read(testdata("tp_counter.bpf.o")).unwrap();
    let hex = sha256_hex(&original);
    let blob = dir.join("blobs/sha256").join(&hex);
    let mut damaged = original.clone();
    damaged[100] ^= 0xff;
    std::fs::write(&blob, &damaged).unwrap();
    let out = d.path("tp.o");
    ebpf_layout()
        .arg("extract")
        .arg(format!("{}:tp_counter", dir.display()))
        .arg("-o")
        .arg(&out)
        .assert()
        .code(1)
        .stderr(contains(&hex));
    assert!(!out.exists(), "nothing written from damaged bytes");

    ebpf_layout()
        .env("EBPF_LAYOUT_PASSWORD", "")
        .arg("keygen")
        .arg("-o")
        .arg(d.path("site"))
        .assert()
        .success();
    ebpf_layout()
        .arg("extract")
        .arg(format!("{}:xdp_count", dir.display()))
        .arg("--key")
        .arg(d.path("site.pub"))
        .arg("-o")
        .arg(&out)
        .assert()
        .code(1);
    assert!(!out.exists(), "nothing written from an unsigned image");
}

fn sha256_hex(bytes: &[u8]) -> String {
    ebpf_layout::oci::Digest::of(bytes).hex().to_string()
}

#[test]
fn inspect_raw_and_config_print_the_stored_bytes() {
    let d = Dir::new();
    let (_, tar) = bundles(&d);
    let json = ebpf_layout()
        .arg("list")
        .arg(&tar)
        .arg("--json")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let list: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let images = &list["images"];
    let tp = images
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "tp_counter")
        .unwrap();
    let raw = ebpf_layout()
        .arg("inspect")
        .arg(format!("{}:tp_counter", tar.display()))
        .arg("--raw")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(format!("sha256:{}", sha256_hex(&raw)), tp["digest"]);
    let manifest: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    let config = ebpf_layout()
        .arg("inspect")
        .arg(format!("{}:tp_counter", tar.display()))
        .arg("--config")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(
        format!("sha256:{}", sha256_hex(&config)),
        manifest["config"]["digest"]
    );
    ebpf_layout()
        .arg("inspect")
        .arg(format!("{}:tp_counter", tar.display()))
        .args(["--raw", "--json"])
        .assert()
        .code(2);
}

#[test]
fn version_names_the_loader() {
    let expected = if cfg!(feature = "loader") {
        "loader: built in, libbpf 1."
    } else {
        "loader: not built in"
    };
    ebpf_layout()
        .arg("--version")
        .assert()
        .success()
        .stdout(contains(env!("CARGO_PKG_VERSION")).and(contains(expected)));
}

#[test]
fn tag_refuses_an_uppercase_repository_name_that_every_registry_refuses() {
    let d = Dir::new();
    let out = d.path("bundle");
    ebpf_layout()
        .arg("pack")
        .arg(testdata("tp_counter.bpf.o"))
        .args(["--tag", "ghcr.io/Acme/Probe:1.2", "-o"])
        .arg(&out)
        .assert()
        .code(2)
        .stderr(contains("lowercase").and(contains("\"acme/probe\"")));
    assert!(!out.exists());
    ebpf_layout()
        .arg("pack")
        .arg(testdata("tp_counter.bpf.o"))
        .args(["--tag", "ghcr.io/acme/probe:V1.2", "-o"])
        .arg(&out)
        .assert()
        .success();
}

#[test]
fn sign_counts_what_it_signed_apart_from_what_was_already_signed() {
    let d = Dir::new();
    let (dir, _) = bundles(&d);
    ebpf_layout()
        .env("EBPF_LAYOUT_PASSWORD", "")
        .arg("keygen")
        .arg("-o")
        .arg(d.path("site"))
        .assert()
        .success();
    let sign = |reference: String| {
        let out = ebpf_layout()
            .env("EBPF_LAYOUT_PASSWORD", "")
            .arg("sign")
            .arg(reference)
            .arg("--key")
            .arg(d.path("site.key"))
            .assert()
            .success()
            .get_output()
            .clone();
        String::from_utf8(out.stdout).unwrap()
    };
    let first = sign(format!("{}:tp_counter", dir.display()));
    assert!(first.contains("1 image(s) signed with key"), "{first}");
    let again = sign(format!("{}:tp_counter", dir.display()));
    assert!(
        again.contains("1 image(s) already signed") && !again.contains("1 image(s) signed"),
        "{again}"
    );
}

#[test]
fn signatures_are_counted_in_signed_not_listed_as_images_and_every_command_counts_alike() {
    let d = Dir::new();
    let (dir, _) = bundles(&d);
    ebpf_layout()
        .env("EBPF_LAYOUT_PASSWORD", "")
        .arg("keygen")
        .arg("-o")
        .arg(d.path("site"))
        .assert()
        .success();
    ebpf_layout()
        .env("EBPF_LAYOUT_PASSWORD", "")
        .arg("sign")
        .arg(&dir)
        .arg("--key")
        .arg(d.path("site.key"))
        .assert()
        .success();
    let stdout = |args: &[&str]| {
        let out = ebpf_layout()
            .args(args)
            .assert()
            .success()
            .get_output()
            .clone();
        String::from_utf8(out.stdout).unwrap()
    };
    let path = dir.to_str().unwrap();
    let table = stdout(&["list", path]);
    let rows: Vec<&str> = table.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{table}");
    assert!(!table.contains(".sig"), "{table}");
    for row in &rows {
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells[1].len(), "sha256:".len() + 12, "short digest: {row}");
        assert_eq!(cells.last(), Some(&"1"), "SIGNED: {row}");
    }
    assert!(table.lines().all(|l| l.len() < 80), "{table}");
    let all = stdout(&["list", path, "--all", "--no-trunc"]);
    assert_eq!(all.lines().count(), 1 + 4, "{all}");
    assert_eq!(all.matches(".sig").count(), 2, "{all}");
    let full_digests = all
        .lines()
        .skip(1)
        .filter(|l| l.split_whitespace().nth(1).is_some_and(|c| c.len() == 71))
        .count();
    assert_eq!(full_digests, 4, "{all}");

    let verified = stdout(&["verify", path]);
    assert!(
        verified.contains("2 image(s), 2 signature(s)"),
        "{verified}"
    );
    let copied = stdout(&["copy", path, d.path("copy.tar").to_str().unwrap()]);
    assert!(
        copied.contains("2 image(s) and 2 signature(s) copied"),
        "{copied}"
    );
}

#[test]
fn with_json_a_usage_error_is_a_json_object_on_stdout_too() {
    let out = ebpf_layout()
        .args(["list", "--bogus", "bundle", "--json"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("unknown option --bogus"))
        .get_output()
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {:?}", out.stdout));
    assert_eq!(v["ok"], false);
    assert_eq!(v["version"], 1);
    assert_eq!(v["error"]["exit_code"], 2);
    assert_eq!(v["error"]["message"], "unknown option --bogus");
}

#[test]
fn with_json_a_failure_is_a_json_object_on_stdout() {
    let d = Dir::new();
    let (_, tar) = bundles(&d);
    for args in [
        vec![
            "inspect".to_string(),
            format!("{}:tp_countr", tar.display()),
            "--json".into(),
        ],
        vec![
            "list".to_string(),
            d.path("nothere").display().to_string(),
            "--json".into(),
        ],
    ] {
        let out = ebpf_layout()
            .args(&args)
            .assert()
            .code(2)
            .get_output()
            .clone();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: stdout is not JSON ({e}): {:?}", out.stdout));
        assert_eq!(v["ok"], false);
        assert_eq!(v["version"], 1);
        assert_eq!(v["error"]["exit_code"], 2);
        assert!(v["error"]["message"]
            .as_str()
            .unwrap()
            .contains(if args[0] == "list" {
                "nothere"
            } else {
                "tp_countr"
            }));
    }
    let out = ebpf_layout()
        .arg("inspect")
        .arg(format!("{}:tp_countr", tar.display()))
        .arg("--json")
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["hint"], "did you mean tp_counter?");
    // Without --json, standard output stays empty on failure.
    ebpf_layout()
        .arg("inspect")
        .arg(format!("{}:tp_countr", tar.display()))
        .assert()
        .code(2)
        .stdout("");
}

#[test]
fn archive_limits_are_described_once_at_the_top_not_in_every_command() {
    let help = |args: &[&str]| {
        let out = ebpf_layout()
            .args(args)
            .assert()
            .success()
            .get_output()
            .clone();
        String::from_utf8(out.stdout).unwrap()
    };
    let top = help(&["--help"]);
    assert!(
        top.contains("--max-index-size SIZE (env EBPF_LAYOUT_MAX_INDEX_SIZE)"),
        "{top}"
    );
    assert!(!top.contains("docs/"), "{top}");
    for command in ["list", "verify", "copy", "inspect", "pack"] {
        let text = help(&[command, "--help"]);
        assert!(!text.contains("--max-index-size"), "{command}: {text}");
        assert!(!text.contains("Archive limits"), "{command}: {text}");
        assert!(!text.contains("docs/"), "{command}: {text}");
    }
    // Still accepted after the subcommand.
    let d = Dir::new();
    let (_, tar) = bundles(&d);
    ebpf_layout()
        .arg("list")
        .arg(&tar)
        .args(["--max-index-size", "10"])
        .assert()
        .code(2)
        .stderr(contains("over the limit of 10 bytes"));
}

#[test]
fn man_pages_have_exit_status_environment_and_examples() {
    let d = Dir::new();
    ebpf_layout()
        .arg("man")
        .arg("--dir")
        .arg(d.root())
        .assert()
        .success();
    for page in [
        "ebpf-layout.1",
        "ebpf-layout-verify.1",
        "ebpf-layout-extract.1",
    ] {
        let text = std::fs::read_to_string(d.path(page)).unwrap();
        for needle in [
            ".SH \"EXIT STATUS\"",
            ".SH ENVIRONMENT",
            "EBPF_LAYOUT_PASSWORD",
            "SOURCE_DATE_EPOCH",
            "NO_COLOR",
            "EBPF_LAYOUT_MAX_MANIFEST_SIZE",
            "max\\-manifest\\-size",
            ".SH EXAMPLES",
        ] {
            assert!(text.contains(needle), "{page} lacks {needle}");
        }
        assert!(!text.contains(".SH EXTRA"), "{page}");
    }
}

/// The README's command block, run top to bottom in a copy of testdata/ (the lines that
/// need root and a kernel, install or write to /etc are left out here; load_cli covers
/// load).
#[test]
fn the_readme_command_block_runs_top_to_bottom() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("cargo install --locked --path .")
        .expect("install line");
    let block = &readme[start..];
    let block = &block[..block.find("```").unwrap()];
    let mut script = String::from("set -e\n");
    let mut lines = block.lines().peekable();
    while let Some(line) = lines.next() {
        let mut command = line.to_string();
        while command.trim_end().ends_with('\\') {
            command.push('\n');
            command.push_str(lines.next().unwrap_or_default());
        }
        let skip = [
            "cargo install",
            "ebpf-layout load",
            "ebpf-layout unload",
            "completions bash",
        ];
        if skip
            .iter()
            .any(|s| command.trim_start().starts_with(s) || command.contains(s))
        {
            continue;
        }
        script.push_str(&command);
        script.push('\n');
    }
    let d = Dir::new();
    let copy = StdCommand::new("cp")
        .arg("-r")
        .arg(testdata(""))
        .arg(d.path("testdata"))
        .status()
        .unwrap();
    assert!(copy.success());
    let bin = assert_cmd::cargo::cargo_bin("ebpf-layout");
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = StdCommand::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(d.root())
        .env("PATH", path)
        .env("EBPF_LAYOUT_PASSWORD", "")
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "README block failed:\n{script}\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(d.path("tp_counter.o").is_file());
    assert!(d.path("other.tar").is_file());
}

#[test]
fn verify_names_a_damaged_blob_digest_once_and_its_hash_once() {
    let d = Dir::new();
    let (dir, _) = bundles(&d);
    let original = std::fs::read(testdata("tp_counter.bpf.o")).unwrap();
    let hex = sha256_hex(&original);
    let mut damaged = original;
    damaged[100] ^= 0xff;
    let found = sha256_hex(&damaged);
    std::fs::write(dir.join("blobs/sha256").join(&hex), &damaged).unwrap();
    let out = ebpf_layout()
        .arg("verify")
        .arg(&dir)
        .assert()
        .code(1)
        .get_output()
        .clone();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.matches(&hex).count(), 1, "{text}");
    assert_eq!(text.matches(&found).count(), 1, "{text}");
}

#[test]
fn inspect_of_a_multi_platform_name_shows_the_index_and_its_platforms() {
    let d = Dir::new();
    let out = d.path("multi.tar");
    ebpf_layout()
        .arg("pack")
        .arg(format!(
            "--platform=linux/amd64={}",
            testdata("tp_counter.bpf.o").display()
        ))
        .arg(format!(
            "--platform=linux/s390x={}",
            testdata("bpfeb/tp_counter.bpfeb.o").display()
        ))
        .args(["--tag", "probe:1.0", "-o"])
        .arg(&out)
        .assert()
        .success();
    let reference = format!("{}:probe:1.0", out.display());
    ebpf_layout()
        .args(["inspect", &reference, "--platform", "linux/s390x"])
        .assert()
        .success()
        .stdout(
            contains("Index:")
                .and(contains("linux/amd64, linux/s390x"))
                .and(contains("Platform:    linux/s390x")),
        );
    let json = ebpf_layout()
        .args(["inspect", &reference, "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(
        v["index"]["platforms"],
        serde_json::json!(["linux/amd64", "linux/s390x"])
    );
    let single = ebpf_layout()
        .args(["inspect", &format!("{}:probe:1.0", out.display()), "--raw"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(
        format!("sha256:{}", sha256_hex(&single)),
        v["index"]["digest"]
    );
}

#[test]
fn inspect_json_names_its_own_fields_in_camel_case() {
    fn snake_keys(v: &serde_json::Value, path: &str, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, child) in map {
                    if k.contains('_') {
                        out.push(format!("{path}.{k}"));
                    }
                    snake_keys(child, &format!("{path}.{k}"), out);
                }
            }
            serde_json::Value::Array(items) => {
                for item in items {
                    snake_keys(item, &format!("{path}[]"), out);
                }
            }
            _ => {}
        }
    }
    let d = Dir::new();
    let (_, tar) = bundles(&d);
    let json = ebpf_layout()
        .args([
            "inspect",
            "--json",
            &format!("{}:tp_counter", tar.display()),
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let mut v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    // The stored manifest and config are shown as they are; only our own fields count.
    let own = v.as_object_mut().unwrap();
    own.remove("manifest");
    own.remove("config");
    let mut found = Vec::new();
    snake_keys(&v, "", &mut found);
    assert!(found.is_empty(), "snake_case keys: {found:?}");
    assert_eq!(v["object"]["byteOrder"], "little");
    assert_eq!(v["object"]["maps"][0]["keySize"], 4);
}

#[test]
fn a_limit_hit_reports_the_true_size_and_calls_no_referenced_blob_unreferenced() {
    let d = Dir::new();
    let (dir, tar) = bundles(&d);
    let index_size = std::fs::metadata(dir.join("index.json")).unwrap().len();
    assert!(index_size > 100);
    ebpf_layout()
        .arg("verify")
        .arg(&dir)
        .args(["--max-index-size", "100"])
        .assert()
        .failure()
        .stdout(contains(format!(
            "index.json is {index_size} bytes, over the limit of 100 bytes"
        )));
    for store in [&dir, &tar] {
        let out = ebpf_layout()
            .arg("verify")
            .arg(store)
            .args(["--max-manifest-size", "100"])
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("too-large"), "{text}");
        assert!(!text.contains("unreferenced"), "{text}");
    }
}
