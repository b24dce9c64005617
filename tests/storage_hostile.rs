//! Hostile storage (issue #13): what a layout or archive carries in its own files must not
//! make a command follow a link out of it, hang, leave files behind, or give a verdict
//! that depends on which reader read the bytes.

use std::os::unix::fs::{symlink, FileTypeExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use predicates::prelude::*;
use predicates::str::contains;

use crate::archive::{gzip, layout_files, raw_header, RawTar};
use crate::manage::{assert_verifies, blob_files, names};
use crate::util::*;

/// Kills a command that hangs, so that a hang fails the test instead of the whole run.
/// Not a timing assertion: every command here finishes in well under a second.
const WATCHDOG: Duration = Duration::from_secs(120);

fn two_images(d: &Dir) -> PathBuf {
    let out = d.path("bundle");
    pack(&out, &["tp_counter.bpf.o", "xdp_count.bpf.o"]);
    out
}

/// Every command that writes to a layout, as arguments (the layout is `L`).
fn writers(layout: &Path) -> Vec<Vec<String>> {
    let l = layout.display().to_string();
    vec![
        vec!["tag".into(), format!("{l}:tp_counter"), "again".into()],
        vec!["rm".into(), format!("{l}:xdp_count")],
        vec!["gc".into(), l.clone()],
        vec!["copy".into(), l.clone(), l.clone()],
        vec![
            "pack".into(),
            testdata("tc_count.bpf.o").display().to_string(),
            "-o".into(),
            l.clone(),
        ],
    ]
}

// ------------------------------------------------------------------ the lock file

#[test]
fn a_planted_lock_symlink_is_refused_and_its_target_never_created() {
    let d = Dir::new();
    let layout = two_images(&d);
    let lock = layout.join(".ebpf-layout/lock");
    let outside = d.path("outside");
    std::fs::create_dir(&outside).unwrap();
    let target = outside.join("nologin");
    std::fs::remove_file(&lock).unwrap();
    symlink(&target, &lock).unwrap();
    let before = snapshot(&layout);
    let mut commands = writers(&layout);
    commands.push(vec![
        "gc".into(),
        "--dry-run".into(),
        layout.display().to_string(),
    ]);
    commands.push(vec!["verify".into(), layout.display().to_string()]);
    for args in commands {
        ebpf_layout()
            .args(&args)
            .timeout(WATCHDOG)
            .assert()
            .failure()
            .stderr(contains(".ebpf-layout/lock").and(contains("is a symlink")))
            .stderr(contains("other writers kept creating").not());
        assert!(!target.exists(), "{args:?} created the symlink's target");
        assert!(
            snapshot(&outside).is_empty(),
            "{args:?} wrote outside the layout"
        );
        assert_eq!(before, snapshot(&layout), "{args:?} changed the layout");
        assert_eq!(std::fs::read_link(&lock).unwrap(), target);
    }
}

#[test]
fn a_fifo_or_socket_as_lock_file_is_refused_without_hanging() {
    for kind in ["fifo", "socket"] {
        let d = Dir::new();
        let layout = two_images(&d);
        let lock = layout.join(".ebpf-layout/lock");
        std::fs::remove_file(&lock).unwrap();
        let _listener;
        if kind == "fifo" {
            nix::unistd::mkfifo(&lock, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
        } else {
            _listener = std::os::unix::net::UnixListener::bind(&lock).unwrap();
        }
        let before = snapshot(&layout);
        let mut commands = writers(&layout);
        commands.push(vec![
            "gc".into(),
            "--dry-run".into(),
            layout.display().to_string(),
        ]);
        commands.push(vec!["verify".into(), layout.display().to_string()]);
        commands.push(vec!["list".into(), layout.display().to_string()]);
        for args in commands {
            ebpf_layout()
                .args(&args)
                .timeout(WATCHDOG)
                .assert()
                .failure()
                .stderr(contains(".ebpf-layout/lock").and(contains("not a regular file")));
            assert_eq!(
                before,
                snapshot(&layout),
                "{kind}: {args:?} changed the layout"
            );
            let ft = std::fs::symlink_metadata(&lock).unwrap().file_type();
            assert!(
                ft.is_fifo() || ft.is_socket(),
                "{kind}: the lock was replaced"
            );
        }
    }
}

// ------------------------------------------------------------ readers and writers

/// Writers (`tag`, `pack`, `rm`, `gc`) loop on a layout while `verify` and `list` read
/// it: no reader may report a false failure, and every name survives as written.
#[test]
fn readers_never_see_a_false_failure_while_writers_work() {
    const ROUNDS: usize = 20;
    let d = Dir::new();
    let layout = two_images(&d);
    let l = layout.display().to_string();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let l = l.clone();
        let done = done.clone();
        std::thread::spawn(move || {
            let tc = testdata("tc_count.bpf.o").display().to_string();
            for _ in 0..ROUNDS {
                for args in [
                    vec!["tag".to_string(), format!("{l}:tp_counter"), "extra".into()],
                    vec!["pack".into(), tc.clone(), "-o".into(), l.clone()],
                    vec!["rm".into(), format!("{l}:tc_count")],
                    vec!["rm".into(), format!("{l}:extra")],
                    vec!["gc".into(), l.clone()],
                ] {
                    ebpf_layout()
                        .args(&args)
                        .timeout(WATCHDOG)
                        .assert()
                        .success();
                }
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        })
    };
    let mut reads = 0;
    // At least a few reads, however fast the writer is; at most a bounded number.
    while reads < 4 || (!done.load(std::sync::atomic::Ordering::SeqCst) && reads < 400) {
        for args in [
            // Not --strict: between `rm` and `gc`, unreferenced blobs are a true warning.
            vec!["verify".to_string(), l.clone()],
            vec!["list".into(), l.clone()],
            vec![
                "copy".into(),
                format!("{l}:xdp_count"),
                d.path("copied").display().to_string(),
            ],
        ] {
            let out = ebpf_layout()
                .args(&args)
                .timeout(WATCHDOG)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{args:?} failed while writers ran:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        reads += 1;
    }
    writer.join().unwrap();
    assert_eq!(names(&layout), ["tp_counter", "xdp_count"]);
    assert_verifies(&layout, true);
}

#[test]
fn copying_two_layouts_into_each_other_at_once_does_not_deadlock() {
    let d = Dir::new();
    let a = d.path("a");
    let b = d.path("b");
    pack(&a, &["tp_counter.bpf.o"]);
    pack(&b, &["xdp_count.bpf.o"]);
    let threads: Vec<_> = [(a.clone(), b.clone()), (b.clone(), a.clone())]
        .into_iter()
        .map(|(from, to)| {
            std::thread::spawn(move || {
                for _ in 0..10 {
                    ebpf_layout()
                        .arg("copy")
                        .arg(&from)
                        .arg(&to)
                        .timeout(WATCHDOG)
                        .assert()
                        .success();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    for l in [&a, &b] {
        let mut got = names(l);
        got.sort();
        assert_eq!(got, ["tp_counter", "xdp_count"]);
        assert_verifies(l, true);
    }
}

// ------------------------------------------------------------ tar sizes from input

/// `bytes` read as `.tar`, as `.tar.gz` and on standard input: the exit code and stderr
/// of `verify` for each. Asserts that nothing in `d` changed.
fn verify_three_ways(d: &Dir, bytes: &[u8]) -> Vec<(i32, String)> {
    let tar = d.path("evil.tar");
    let tgz = d.path("evil.tar.gz");
    std::fs::write(&tar, bytes).unwrap();
    std::fs::write(&tgz, gzip(bytes)).unwrap();
    let before = snapshot(d.root());
    let mut out = Vec::new();
    for path in [&tar, &tgz] {
        let o = ebpf_layout()
            .arg("verify")
            .arg(path)
            .timeout(WATCHDOG)
            .output()
            .unwrap();
        out.push((
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        ));
    }
    let o = ebpf_layout()
        .arg("verify")
        .arg("-")
        .write_stdin(bytes.to_vec())
        .timeout(WATCHDOG)
        .output()
        .unwrap();
    out.push((
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    ));
    assert!(before == snapshot(d.root()), "verify changed files");
    out
}

#[test]
fn a_pax_size_near_2_to_the_64_is_refused_by_all_three_readers() {
    let d = Dir::new();
    let good = d.path("good");
    pack(&good, &["tp_counter.bpf.o"]);
    let files = layout_files(&good);
    for size in [u64::MAX, u64::MAX - 510, u64::MAX - 511 - 512] {
        // A PAX size that wrapped the padding arithmetic made the streaming reader skip
        // nothing and read the valid layout behind it as if the entry were empty.
        let record = format!("size={size}\n");
        let pax = format!("{} {record}", record.len() + 3);
        let mut t = RawTar::new();
        t.0.extend(raw_header(b"PaxHeaders/junk", b'x', pax.len() as u64, b""));
        t.0.extend(pax.as_bytes());
        let n = t.0.len().div_ceil(512) * 512;
        t.0.resize(n, 0);
        t.0.extend(raw_header(b"junk", b'0', 0, b""));
        for (name, data) in &files {
            t = t.file(name, data);
        }
        let bytes = t.end();
        for (i, (code, stderr)) in verify_three_ways(&d, &bytes).into_iter().enumerate() {
            let reader = [".tar", ".tar.gz", "stdin"][i];
            assert_eq!(code, 2, "{reader} with PAX size {size}: {stderr}");
            assert!(
                stderr.contains("junk") && stderr.contains("PAX size record"),
                "{reader} with PAX size {size}: {stderr}"
            );
        }
    }
}

// ------------------------------------------------------------ messages that say what is wrong

#[test]
fn trailing_data_after_a_gzip_stream_is_named_as_such() {
    let d = Dir::new();
    let archive = d.path("bundle.tar.gz");
    ebpf_layout()
        .arg("pack")
        .arg(testdata("tp_counter.bpf.o"))
        .arg("-o")
        .arg(&archive)
        .assert()
        .success();
    let mut bytes = std::fs::read(&archive).unwrap();
    bytes.extend_from_slice(b"appended by someone else\n");
    std::fs::write(&archive, &bytes).unwrap();
    let before = snapshot(d.root());
    for args in [
        vec!["verify".to_string(), archive.display().to_string()],
        vec!["verify".into(), "-".into()],
    ] {
        ebpf_layout()
            .args(&args)
            .write_stdin(bytes.clone())
            .timeout(WATCHDOG)
            .assert()
            .code(2)
            .stderr(contains("trailing data after the compressed stream"))
            .stderr(contains("invalid gzip header").not());
    }
    assert!(before == snapshot(d.root()), "verify changed files");
    // Two whole gzip members are one stream, as gzip -d reads them.
    let mut two = std::fs::read(&archive).unwrap();
    two.truncate(bytes.len() - 25);
    two.extend(gzip(b""));
    std::fs::write(&archive, &two).unwrap();
    ebpf_layout().arg("verify").arg(&archive).assert().success();
}

#[test]
fn a_socket_where_a_blob_should_be_is_named_not_a_regular_file() {
    let d = Dir::new();
    let layout = two_images(&d);
    let digest = digest_of(&layout, "tp_counter");
    let path = layout
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"));
    std::fs::remove_file(&path).unwrap();
    let _listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    // (snapshot() cannot read a socket: compare index.json and the blob names.)
    let state = || {
        (
            std::fs::read(layout.join("index.json")).unwrap(),
            blob_files(&layout),
        )
    };
    let before = state();
    for args in [vec!["verify"], vec!["inspect"], vec!["gc", "--dry-run"]] {
        let target = if args[0] == "inspect" {
            format!("{}:tp_counter", layout.display())
        } else {
            layout.display().to_string()
        };
        let out = ebpf_layout()
            .args(&args)
            .arg(&target)
            .timeout(WATCHDOG)
            .output()
            .unwrap();
        // verify reports on stdout, the others fail on stderr.
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.status.success(), "{args:?} passed:\n{said}");
        assert!(said.contains("not a regular file"), "{args:?}:\n{said}");
        assert!(
            !said.contains("No such device or address"),
            "{args:?}:\n{said}"
        );
        assert!(before == state(), "{args:?} changed the layout");
    }
}

#[test]
fn gc_on_a_symlinked_blobs_folder_names_the_folder_not_a_manifest() {
    let d = Dir::new();
    let layout = two_images(&d);
    let elsewhere = d.path("elsewhere");
    std::fs::rename(layout.join("blobs"), &elsewhere).unwrap();
    symlink(&elsewhere, layout.join("blobs")).unwrap();
    let before = snapshot(d.root());
    for args in [vec!["gc"], vec!["gc", "--dry-run"]] {
        ebpf_layout()
            .args(&args)
            .arg(&layout)
            .timeout(WATCHDOG)
            .assert()
            .code(2)
            .stderr(contains("blobs").and(contains("symlinks are not followed")))
            .stderr(contains("damaged manifest").not());
        assert!(before == snapshot(d.root()), "{args:?} changed something");
    }
}

// ------------------------------------------------------------ interrupted archive writes

/// A layout with one image whose layer is `size` bytes of incompressible data, so that
/// writing it as `.tar.gz` takes long enough to be interrupted.
fn big_layout(root: &Path, size: usize) {
    let f = Fixture::new(root);
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let layer: Vec<u8> = (0..size)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let config = f.blob("application/vnd.oci.image.config.v1+json", b"{}");
    let layer = f.blob("application/octet-stream", &layer);
    let manifest = f.json(
        "application/vnd.oci.image.manifest.v1+json",
        &serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config,
            "layers": [layer],
        }),
    );
    let mut entry = manifest;
    entry["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": "big"});
    f.index(vec![entry]);
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_signal_during_copy_to_an_archive_leaves_the_folder_as_it_was() {
    use std::os::unix::process::ExitStatusExt;
    let d = Dir::new();
    let layout = d.path("big");
    big_layout(&layout, 96 << 20);
    let out = d.path("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("keep.txt"), b"already here").unwrap();
    for (signal, number) in [("TERM", 15), ("INT", 2), ("HUP", 1)] {
        let before = snapshot(&out);
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ebpf-layout"))
            .arg("copy")
            .arg(&layout)
            .arg(out.join("bundle.tar.gz"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Wait (bounded) until the temporary file exists, then interrupt.
        let mut seen = false;
        for _ in 0..60_000 {
            if listing(&out).iter().any(|n| n.ends_with(".tmp")) {
                seen = true;
                break;
            }
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(
            seen,
            "SIG{signal}: the copy finished before it could be interrupted"
        );
        let killed = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.id().to_string())
            .status()
            .unwrap();
        assert!(killed.success());
        let status = child.wait().unwrap();
        assert_eq!(status.signal(), Some(number), "SIG{signal}: {status:?}");
        assert_eq!(listing(&out), ["keep.txt"], "SIG{signal} left files behind");
        assert!(before == snapshot(&out), "SIG{signal} changed the folder");
    }
}

#[test]
fn a_full_disk_while_writing_an_archive_fails_clearly_and_leaves_nothing() {
    if !nix::unistd::Uid::effective().is_root() {
        if std::env::var("EBPF_LAYOUT_REQUIRE_ALL").as_deref() == Ok("1") {
            panic!("this test needs root to mount a tmpfs (EBPF_LAYOUT_REQUIRE_ALL=1)");
        }
        eprintln!("SKIPPED: a_full_disk_while_writing_an_archive_fails_clearly_and_leaves_nothing needs root to mount a tmpfs");
        return;
    }
    let d = Dir::new();
    let layout = d.path("big");
    big_layout(&layout, 12 << 20);
    let mnt = d.path("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=8m", "tmpfs"])
        .arg(&mnt)
        .status()
        .unwrap();
    assert!(mounted.success());
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(&self.0)
                .status();
        }
    }
    let _unmount = Unmount(mnt.clone());
    std::fs::write(mnt.join("keep.txt"), b"already here").unwrap();
    let before = snapshot(&mnt);
    for name in ["bundle.tar", "bundle.tar.gz"] {
        let dest = mnt.join(name);
        let o = ebpf_layout()
            .arg("copy")
            .arg(&layout)
            .arg(&dest)
            .timeout(WATCHDOG)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name}: {stderr}");
        assert!(
            stderr.contains("file system is full")
                && stderr.contains("No space left on device")
                && stderr.contains(&dest.display().to_string())
                && stderr.contains("left as it was"),
            "{name}: unclear ENOSPC error:\n{stderr}"
        );
        assert_eq!(listing(&mnt), ["keep.txt"], "{name}: files left behind");
        assert!(before == snapshot(&mnt), "{name}: the folder changed");
    }
}

// ------------------------------------------------------------ bpfman layers

#[test]
fn a_small_bpfman_layer_that_inflates_hugely_is_stopped_by_the_ratio_bound() {
    let d = Dir::new();
    let layout = d.path("bpfman");
    let f = Fixture::new(&layout);
    // A real BPF object padded with 100 MiB of zeros: a layer of well under 1 MiB that
    // would make inspect decompress and keep all of it.
    let object = std::fs::read(testdata("tp_counter.bpf.o")).unwrap();
    let padding = 100u64 << 20;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    {
        let mut tar = tar::Builder::new(&mut gz);
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(object.len() as u64 + padding);
        h.set_mode(0o644);
        h.set_cksum();
        let data = std::io::Read::chain(
            &object[..],
            std::io::Read::take(std::io::repeat(0), padding),
        );
        tar.append_data(&mut h, "probe.o", data).unwrap();
        tar.finish().unwrap();
    }
    let layer_bytes = gz.finish().unwrap();
    assert!(layer_bytes.len() < 1 << 20);
    let config = f.json(
        "application/vnd.oci.image.config.v1+json",
        &serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "config": {"Labels": {"io.ebpf.programs": r#"{"count_getpid":"tracepoint"}"#}},
            "rootfs": {"type": "layers", "diff_ids": []},
        }),
    );
    let layer = f.blob("application/vnd.oci.image.layer.v1.tar+gzip", &layer_bytes);
    let mut manifest = f.json(
        "application/vnd.oci.image.manifest.v1+json",
        &serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config,
            "layers": [layer],
        }),
    );
    manifest["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": "bomb"});
    f.index(vec![manifest]);
    let before = snapshot(d.root());
    ebpf_layout()
        .arg("inspect")
        .arg(format!("{}:bomb", layout.display()))
        .timeout(WATCHDOG)
        .assert()
        .code(2)
        .stderr(contains("decompression ratio is over 100:1"));
    assert!(before == snapshot(d.root()), "inspect changed something");
}

#[test]
fn a_planted_private_folder_symlink_is_refused_by_readers_and_writers() {
    let d = Dir::new();
    let layout = two_images(&d);
    let outside = d.path("outside");
    std::fs::rename(layout.join(".ebpf-layout"), &outside).unwrap();
    symlink(&outside, layout.join(".ebpf-layout")).unwrap();
    let before = snapshot(d.root());
    let mut commands = writers(&layout);
    commands.push(vec!["verify".into(), layout.display().to_string()]);
    commands.push(vec!["list".into(), layout.display().to_string()]);
    commands.push(vec![
        "gc".into(),
        "--dry-run".into(),
        layout.display().to_string(),
    ]);
    for args in commands {
        ebpf_layout()
            .args(&args)
            .timeout(WATCHDOG)
            .assert()
            .failure()
            .stderr(contains(".ebpf-layout").and(contains("symlinks are not followed")));
        assert!(before == snapshot(d.root()), "{args:?} changed something");
    }
}
