//! Damage in transit (issue #13, item 3): an archive cut short (`.tar`, `.tar.gz`, the
//! same on standard input) or whose gzip data no longer matches its CRC is an integrity
//! failure: exit 1 from every command, listed under `problems` in `verify --json` (not
//! `unusable`), so that a script branching "1 = copy it again" takes the right branch.
//! Nothing outside the target changes.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::archive::gzip;
use crate::util::*;

/// The damaged archives of one kind, each with the problem code `verify` must report.
fn damaged_archives(d: &Dir) -> Vec<(PathBuf, &'static str)> {
    let good = d.path("good.tar");
    pack(&good, &["tp_counter.bpf.o", "xdp_count.bpf.o"]);
    let tar = std::fs::read(&good).unwrap();
    let tgz = gzip(&tar);
    let mut out = Vec::new();
    let mut write = |name: &str, bytes: &[u8], code: &'static str| {
        let path = d.path(name);
        std::fs::write(&path, bytes).unwrap();
        out.push((path, code));
    };
    // Cut inside a blob's data (half the file), and at a 512-byte boundary.
    write("cut.tar", &tar[..tar.len() / 2], "truncated");
    write(
        "cut-boundary.tar",
        &tar[..(tar.len() / 1024) * 512],
        "truncated",
    );
    // The gzip stream itself cut short.
    write("cut.tar.gz", &tgz[..tgz.len() / 2], "truncated");
    // The gzip trailer's CRC-32 no longer matches the data.
    let mut crc = tgz.clone();
    let at = crc.len() - 8;
    crc[at] ^= 0x01;
    write("crc.tar.gz", &crc, "corrupt-archive");
    // A bit flipped inside the compressed data: it decodes to garbage (which looks like a
    // malformed tar header) before the CRC is checked; still damage in transit.
    let mut flipped = tgz.clone();
    let at = flipped.len() / 3;
    flipped[at] ^= 0x10;
    write("flipped.tar.gz", &flipped, "corrupt-archive");
    out
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

#[test]
fn verify_reports_damage_in_transit_as_an_integrity_failure_with_exit_1() {
    let d = Dir::new();
    let archives = damaged_archives(&d);
    let before = snapshot(d.root());
    for (archive, code) in &archives {
        let out = ebpf_layout()
            .args(["verify", "--json", &s(archive)])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}: {stdout}",
            archive.display()
        );
        let report: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(report["ok"], false);
        assert!(report.get("unusable").is_none(), "{stdout}");
        let problem = &report["reports"][0]["problems"][0];
        assert_eq!(problem["code"], *code, "{}: {stdout}", archive.display());
        assert_eq!(problem["severity"], "error");
        assert!(
            problem["message"]
                .as_str()
                .unwrap()
                .contains("copy it again"),
            "{stdout}"
        );

        // Human output: the same finding on stdout, exit 1.
        let out = ebpf_layout()
            .args(["verify", &s(archive)])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{stdout}");
        assert!(stdout.contains(&format!("[{code}]")), "{stdout}");

        // The same bytes on standard input.
        let out = ebpf_layout()
            .args(["verify", "--json", "-"])
            .pipe_stdin(archive)
            .unwrap()
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(1),
            "stdin {}: {stdout}",
            archive.display()
        );
        let report: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(report["reports"][0]["problems"][0]["code"], *code);
    }
    assert_eq!(snapshot(d.root()), before, "verify changed something");
}

#[test]
fn every_command_exits_1_on_damage_in_transit_and_leaves_the_destination_alone() {
    let d = Dir::new();
    let archives = damaged_archives(&d);
    let dest = d.path("dest");
    pack(&dest, &["multi_prog.bpf.o"]);
    let before = snapshot(d.root());
    for (archive, _) in &archives {
        let mut runs = vec![
            vec!["list".to_string(), s(archive)],
            vec!["inspect".to_string(), format!("{}:tp_counter", s(archive))],
            vec!["copy".to_string(), s(archive), s(&dest)],
            vec!["copy".to_string(), s(archive), s(&d.path("fresh.tar"))],
        ];
        if cfg!(feature = "loader") {
            // Refused while the archive is read, before anything reaches the kernel.
            runs.push(vec![
                "load".to_string(),
                format!("{}:tp_counter", s(archive)),
                "--duration".into(),
                "0".into(),
            ]);
        }
        for args in runs {
            let out = ebpf_layout().args(&args).output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
            assert!(stderr.contains("copy it again"), "{args:?}: {stderr}");
        }
    }
    assert_eq!(
        snapshot(d.root()),
        before,
        "a refused command changed something"
    );
}
