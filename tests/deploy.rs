//! Deployments end to end (issue #15): `load --pin --detach` records where the programs came
//! from, `ps` finds and checks them, `watch` shows their maps, `unload` removes them. The
//! binary, real layouts, the running kernel; gated like every kernel test (tests/kit/kernel.rs).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use predicates::prelude::PredicateBooleanExt as _;
use predicates::str::contains;
use serde_json::Value;

use crate::kit::kernel::{kernel_test, programs_named, serial, wait_until, Need, BPFFS};
use crate::util::*;

/// A pin folder under bpffs for one test, unloaded (by the binary) when the test ends.
struct Pins(PathBuf);

impl Pins {
    fn new(test: &str) -> Self {
        let path = Path::new(BPFFS).join(format!("ebl-{test}-{}", std::process::id()));
        unload_quietly(&path);
        Pins(path)
    }
}

impl Drop for Pins {
    fn drop(&mut self) {
        unload_quietly(&self.0);
    }
}

fn unload_quietly(path: &Path) {
    if path.exists() {
        let _ = ebpf_layout().arg("unload").arg(path).output();
    }
}

/// `ps DIR --json`.
fn ps(root: &Path) -> Vec<Value> {
    let out = ebpf_layout()
        .arg("ps")
        .arg(root)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// `load REF --pin DIR --detach`, returning its standard error.
fn load_detached(reference: &str, pin: &Path, extra: &[&str]) -> String {
    let out = ebpf_layout()
        .arg("load")
        .arg(reference)
        .arg("--pin")
        .arg(pin)
        .arg("--detach")
        .args(["--display", "text"])
        .args(extra)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    stderr
}

kernel_test!(
    ps_shows_a_signed_detached_deployment_and_flags_it_once_its_programs_are_removed_behind_our_back,
    [Need::Kernel, Need::Bpffs],
    || {
        let _serial = serial();
        let d = Dir::new();
        let bundle = d.path("bundle");
        pack(&bundle, &["tp_counter.bpf.o", "multi_prog.bpf.o"]);
        ebpf_layout()
            .env("EBPF_LAYOUT_PASSWORD", "")
            .arg("keygen")
            .arg("--output")
            .arg(d.path("site"))
            .assert()
            .success();
        ebpf_layout()
            .env("EBPF_LAYOUT_PASSWORD", "")
            .arg("sign")
            .arg(format!("{}:tp_counter", bundle.display()))
            .arg("--key")
            .arg(d.path("site.key"))
            .assert()
            .success();
        let digest = entry(&bundle, "tp_counter")["digest"]
            .as_str()
            .unwrap()
            .to_string();
        let pins = Pins::new("ps");
        let public = d.path("site.pub");
        let stderr = load_detached(
            &format!("{}:tp_counter", bundle.display()),
            &pins.0,
            &["--key", public.to_str().unwrap()],
        );
        // "signature of sha256:… verified with key sha256:0123456789ab"
        let key = stderr
            .split("verified with key ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no key id in: {stderr}"))
            .to_string();

        let found = ps(&pins.0);
        assert_eq!(found.len(), 1, "{found:?}");
        let deployment = &found[0];
        assert_eq!(deployment["path"], pins.0.to_str().unwrap());
        assert_eq!(deployment["source"], bundle.to_str().unwrap());
        assert_eq!(deployment["healthy"], true, "{deployment}");
        assert!(deployment["loaded_at"].as_u64().unwrap() > 1_700_000_000);
        let image = &deployment["images"][0];
        assert_eq!(image["name"], "tp_counter");
        assert_eq!(image["digest"], digest.as_str());
        let signer = image["signed_by"].as_str().unwrap();
        assert!(signer.starts_with(&key), "{signer} is key {key}");
        let program = &image["programs"][0];
        assert_eq!(program["name"], "count_getpid");
        assert_eq!(program["state"], "running");
        assert_eq!(
            program["attached_to"][0],
            "tracepoint/syscalls/sys_enter_getpid"
        );
        let id = program["id"].as_u64().unwrap() as u32;
        assert!(programs_named("count_getpid").contains(&id));

        // Without a folder, ps looks under every bpffs mount, and finds it there too.
        let everywhere = ebpf_layout().args(["ps", "--json"]).output().unwrap();
        let everywhere: Value = serde_json::from_slice(&everywhere.stdout).unwrap();
        assert!(
            everywhere
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["path"] == pins.0.to_str().unwrap()),
            "{everywhere}"
        );
        ebpf_layout()
            .arg("ps")
            .arg(&pins.0)
            .assert()
            .success()
            .stdout(contains("tp_counter").and(contains("running")));

        // Behind our back: the link and program pins go, so the program leaves the kernel.
        std::fs::remove_file(pins.0.join("links/count_getpid")).unwrap();
        std::fs::remove_file(pins.0.join("programs/count_getpid")).unwrap();
        wait_until("the program to leave the kernel", || {
            !programs_named("count_getpid").contains(&id)
        });
        let found = ps(&pins.0);
        assert_eq!(found.len(), 1, "flagged, not hidden: {found:?}");
        assert_eq!(found[0]["healthy"], false);
        assert_eq!(found[0]["images"][0]["programs"][0]["state"], "gone");
        ebpf_layout()
            .arg("ps")
            .arg(&pins.0)
            .assert()
            .success()
            .stdout(contains("GONE"))
            .stderr(contains("not running as loaded"));

        // What is left (maps, manifest, record) still unloads, and then ps has nothing.
        ebpf_layout()
            .arg("unload")
            .arg(&pins.0)
            .assert()
            .success()
            .stdout(contains("unloaded tp_counter").and(contains("already gone")));
        assert!(!pins.0.exists());
        assert!(ps(Path::new(BPFFS))
            .iter()
            .all(|d| d["path"] != pins.0.to_str().unwrap()));
    }
);

kernel_test!(
    watch_shows_the_live_counter_of_a_detached_deployment,
    [Need::Kernel, Need::Bpffs],
    || {
        let _serial = serial();
        let d = Dir::new();
        let bundle = d.path("bundle.tar");
        pack(&bundle, &["tp_counter.bpf.o"]);
        let pins = Pins::new("watch");
        load_detached(bundle.to_str().unwrap(), &pins.0, &[]);
        let child = Command::new(assert_cmd::cargo::cargo_bin("ebpf-layout"))
            .arg("watch")
            .arg(&pins.0)
            .args(["--duration", "2.5", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(1000));
        for _ in 0..40 {
            // Not cached by glibc: each is a real getpid syscall.
            let _ = std::process::id();
        }
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        let lines: Vec<Value> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["event"], "loaded");
        assert_eq!(lines[0]["detached"], true);
        assert_eq!(lines[0]["programs"][0]["name"], "count_getpid");
        assert_eq!(lines[0]["maps"][0]["display"], "counter");
        let snapshots: Vec<u64> = lines
            .iter()
            .filter(|l| l["event"] == "snapshot" && l["map"] == "counter_getpid")
            .map(|l| l["entries"][0]["value"].as_u64().unwrap())
            .collect();
        assert!(snapshots.len() >= 2, "{lines:?}");
        let (first, last) = (snapshots[0], *snapshots.last().unwrap());
        assert!(last >= first + 40, "counted {first} then {last}");
        assert_eq!(lines.last().unwrap()["event"], "stopped");
        // Watching left it running.
        assert_eq!(ps(&pins.0)[0]["healthy"], true);
    }
);

/// A port nobody listens on now (the system picks it; the race with other tests is small).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET http://127.0.0.1:PORT/PATH` (HTTP/1.0, so the server closes): the body, once the
/// server answers 200 (waiting up to `wait` for it to start).
fn http_get(port: u16, path: &str, wait: Duration) -> String {
    use std::io::{Read as _, Write as _};
    let start = std::time::Instant::now();
    loop {
        let attempt = (|| -> std::io::Result<String> {
            let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
            write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
            let mut response = String::new();
            stream.read_to_string(&mut response)?;
            Ok(response)
        })();
        if let Ok(response) = &attempt {
            if let Some((head, body)) = response.split_once("\r\n\r\n") {
                if head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200") {
                    return body.to_string();
                }
            }
        }
        assert!(
            start.elapsed() < wait,
            "http://127.0.0.1:{port}{path} did not answer 200 within {wait:?}: {attempt:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `promtool check metrics` on `text`: panics with promtool's words if it finds a problem.
fn promtool_check(text: &str) {
    use std::io::Write as _;
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\non:\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A child process stopped (SIGTERM, then waited for) when dropped.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

/// The value of a pinned u64 array map's entry 0.
fn pinned_counter(path: &Path) -> u64 {
    use libbpf_rs::MapCore as _;
    let map = libbpf_rs::MapHandle::from_pinned_path(path).unwrap();
    let value = map
        .lookup(&0u32.to_ne_bytes(), libbpf_rs::MapFlags::ANY)
        .unwrap()
        .unwrap();
    u64::from_ne_bytes(value[..8].try_into().unwrap())
}

kernel_test!(
    load_metrics_pass_promtool_and_a_real_prometheus_scrapes_the_counter,
    [
        Need::Kernel,
        Need::Bpffs,
        Need::Tool("prometheus"),
        Need::Tool("promtool")
    ],
    || {
        let _serial = serial();
        let d = Dir::new();
        let bundle = d.path("bundle.tar");
        pack(&bundle, &["tp_counter.bpf.o"]);
        let pins = Pins::new("metrics");
        let port = free_port();
        // Pinned (not detached), so that the test can read the map the metrics come from.
        let _load = Running(
            Command::new(assert_cmd::cargo::cargo_bin("ebpf-layout"))
                .arg("load")
                .arg(&bundle)
                .arg("--pin")
                .arg(&pins.0)
                .arg("--metrics")
                .arg(format!("127.0.0.1:{port}"))
                .args(["--duration", "120", "--json"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        // The endpoint listens before the object is loaded; its maps appear after.
        let start = std::time::Instant::now();
        let text = loop {
            let text = http_get(port, "/metrics", Duration::from_secs(20));
            if text.contains("counter_getpid_total{") {
                break text;
            }
            assert!(start.elapsed() < Duration::from_secs(20), "{text}");
            std::thread::sleep(Duration::from_millis(100));
        };
        for _ in 0..40 {
            let _ = std::process::id();
        }
        let text_after = http_get(port, "/metrics", Duration::from_secs(5));
        promtool_check(&text_after);
        let sample = |text: &str| -> u64 {
            let line = text
                .lines()
                .find(|l| {
                    l.starts_with(
                        r#"counter_getpid_total{image="tp_counter",map="counter_getpid",key="0"} "#,
                    )
                })
                .unwrap_or_else(|| panic!("no counter_getpid sample in:\n{text}"));
            line.rsplit(' ').next().unwrap().parse().unwrap()
        };
        assert!(
            sample(&text_after) >= sample(&text) + 40,
            "{text}\n{text_after}"
        );

        // A real Prometheus server scrapes it, and its query API returns the map's value.
        let prometheus_port = free_port();
        let config = d.path("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: ebpf\n    \
                 static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
            ),
        )
        .unwrap();
        let _prometheus = Running(
            Command::new("prometheus")
                .arg(format!("--config.file={}", config.display()))
                .arg(format!("--storage.tsdb.path={}", d.path("data").display()))
                .arg(format!("--web.listen-address=127.0.0.1:{prometheus_port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let query = "/api/v1/query?query=counter_getpid_total%7Bimage%3D%22tp_counter%22%2Cmap%3D%22counter_getpid%22%7D";
        let start = std::time::Instant::now();
        let (labels, scraped) = loop {
            let body = http_get(prometheus_port, query, Duration::from_secs(30));
            let answer: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(answer["status"], "success", "{answer}");
            if let Some(series) = answer["data"]["result"].as_array().and_then(|r| r.first()) {
                let value: u64 = series["value"][1].as_str().unwrap().parse().unwrap();
                break (series["metric"].clone(), value);
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "Prometheus never scraped counter_getpid_total: {answer}"
            );
            std::thread::sleep(Duration::from_millis(250));
        };
        assert_eq!(labels["job"], "ebpf");
        assert_eq!(labels["key"], "0");
        // What Prometheus holds is what the map held when it scraped: at least what we
        // counted before, at most what the map holds now.
        let now = pinned_counter(&pins.0.join("maps/counter_getpid"));
        assert!(
            sample(&text_after) <= scraped && scraped <= now,
            "Prometheus has {scraped}; the endpoint showed {} before, the map holds {now}",
            sample(&text_after)
        );
    }
);

kernel_test!(
    watch_metrics_count_ring_buffer_records_and_pass_promtool,
    [Need::Kernel, Need::Bpffs, Need::Tool("promtool")],
    || {
        let _serial = serial();
        let d = Dir::new();
        let bundle = d.path("bundle");
        pack(&bundle, &["ringbuf_events.bpf.o"]);
        let pins = Pins::new("watch-metrics");
        load_detached(bundle.to_str().unwrap(), &pins.0, &[]);
        let port = free_port();
        let _watch = Running(
            Command::new(assert_cmd::cargo::cargo_bin("ebpf-layout"))
                .arg("watch")
                .arg(&pins.0)
                .arg("--metrics")
                .arg(format!("127.0.0.1:{port}"))
                .args(["--duration", "60", "--json"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let _ = http_get(port, "/metrics", Duration::from_secs(20));
        for _ in 0..25 {
            // Each is a record in the ring buffer.
            let _ = nix::unistd::getppid();
        }
        let records = || {
            let text = http_get(port, "/metrics", Duration::from_secs(5));
            let value = text
                .lines()
                .find(|l| {
                    l.starts_with(
                        r#"ebpf_layout_records_total{image="ringbuf_events",map="print_events"} "#,
                    )
                })
                .and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok());
            (text, value)
        };
        wait_until("25 ring buffer records counted", || {
            records().1.is_some_and(|n| n >= 25)
        });
        promtool_check(&records().0);
    }
);

/// The pin folders of this test's bundles, and of bundles loaded without --pin by this
/// process's children (`ebpf_layout_run_PID`), that are left under bpffs.
fn leftovers(prefix: &str) -> Vec<String> {
    std::fs::read_dir(BPFFS)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect()
}

kernel_test!(
    a_two_image_bundle_loads_whole_and_stops_whole_without_pins,
    [Need::Kernel, Need::Bpffs],
    || {
        let _serial = serial();
        let d = Dir::new();
        let bundle = d.path("bundle.tar");
        pack(&bundle, &["tp_counter.bpf.o", "multi_prog.bpf.o"]);
        let (getpid_before, getuid_before) = (
            programs_named("count_getpid").len(),
            programs_named("on_getuid").len(),
        );
        let child = Command::new(assert_cmd::cargo::cargo_bin("ebpf-layout"))
            .arg("load")
            .arg(&bundle)
            .args(["--duration", "2.5", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let run_folder = format!("ebpf_layout_run_{}", child.id());
        std::thread::sleep(Duration::from_millis(1000));
        // Both images run at once.
        assert_eq!(programs_named("count_getpid").len(), getpid_before + 1);
        assert_eq!(programs_named("on_getuid").len(), getuid_before + 1);
        for _ in 0..40 {
            let _ = std::process::id();
        }
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        let lines: Vec<Value> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["event"], "loaded");
        let programs: Vec<&str> = lines[0]["programs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert!(
            programs.contains(&"tp_counter/count_getpid"),
            "{programs:?}"
        );
        assert!(programs.contains(&"multi_prog/on_getuid"), "{programs:?}");
        let last = lines
            .iter()
            .rev()
            .find(|l| l["event"] == "snapshot" && l["map"] == "tp_counter/counter_getpid")
            .expect("a snapshot of tp_counter's counter");
        assert!(last["entries"][0]["value"].as_u64().unwrap() >= 40);
        assert!(lines
            .iter()
            .any(|l| l["event"] == "snapshot" && l["map"] == "multi_prog/counter_calls"));
        assert_eq!(lines.last().unwrap()["event"], "stopped");
        // Stopped whole: no program and no pin is left.
        wait_until("both images' programs to be unloaded", || {
            programs_named("count_getpid").len() <= getpid_before
                && programs_named("on_getuid").len() <= getuid_before
        });
        assert!(
            leftovers(&run_folder).is_empty(),
            "{run_folder} left behind"
        );
    }
);

kernel_test!(
    a_bundle_pinned_and_detached_runs_under_one_folder_per_image_and_unloads_one_then_all,
    [Need::Kernel, Need::Bpffs],
    || {
        let _serial = serial();
        let d = Dir::new();
        let bundle = d.path("bundle");
        pack(&bundle, &["tp_counter.bpf.o", "multi_prog.bpf.o"]);
        let getpid_before = programs_named("count_getpid").len();
        let getuid_before = programs_named("on_getuid").len();
        let pins = Pins::new("bundle");
        let stderr = load_detached(bundle.to_str().unwrap(), &pins.0, &[]);
        assert!(stderr.contains("2 images are running"), "{stderr}");
        assert_eq!(programs_named("count_getpid").len(), getpid_before + 1);
        assert_eq!(programs_named("on_getuid").len(), getuid_before + 1);
        for image in ["tp_counter", "multi_prog"] {
            assert!(
                pins.0.join(image).join("ebpf_layout_manifest").exists(),
                "{image}"
            );
        }

        // One deployment, two images, each with its digest.
        let found = ps(&pins.0);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0]["path"], pins.0.to_str().unwrap());
        assert_eq!(found[0]["healthy"], true);
        let images: Vec<(&str, &str)> = found[0]["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| (i["name"].as_str().unwrap(), i["digest"].as_str().unwrap()))
            .collect();
        for name in ["tp_counter", "multi_prog"] {
            let digest = entry(&bundle, name)["digest"].as_str().unwrap().to_string();
            assert!(images.contains(&(name, digest.as_str())), "{images:?}");
        }

        // watch shows both images' maps.
        let watched = ebpf_layout()
            .arg("watch")
            .arg(&pins.0)
            .args(["--duration", "0.2", "--json"])
            .output()
            .unwrap();
        assert!(watched.status.success());
        let watched = String::from_utf8_lossy(&watched.stdout);
        assert!(
            watched.contains(r#""map":"tp_counter/counter_getpid""#),
            "{watched}"
        );
        assert!(
            watched.contains(r#""map":"multi_prog/counter_calls""#),
            "{watched}"
        );

        // Unload one image: the other keeps running, and the record lists it alone.
        ebpf_layout()
            .arg("unload")
            .arg(pins.0.join("multi_prog"))
            .assert()
            .success()
            .stdout(contains("unloaded multi_prog"));
        wait_until("multi_prog's programs to be unloaded", || {
            programs_named("on_getuid").len() <= getuid_before
        });
        assert_eq!(programs_named("count_getpid").len(), getpid_before + 1);
        assert!(!pins.0.join("multi_prog").exists());
        let found = ps(&pins.0);
        let images = found[0]["images"].as_array().unwrap();
        assert_eq!(images.len(), 1, "{found:?}");
        assert_eq!(images[0]["name"], "tp_counter");
        assert_eq!(found[0]["healthy"], true);

        // Unload the deployment: the rest goes, folder and all.
        ebpf_layout()
            .arg("unload")
            .arg(&pins.0)
            .assert()
            .success()
            .stdout(contains("unloaded tp_counter"));
        wait_until("tp_counter's program to be unloaded", || {
            programs_named("count_getpid").len() <= getpid_before
        });
        assert!(!pins.0.exists(), "the bundle's folder is removed");
    }
);

kernel_test!(
    a_bundle_with_an_image_the_verifier_rejects_loads_nothing_and_pins_nothing,
    [Need::Kernel, Need::Bpffs],
    || {
        let _serial = serial();
        let d = Dir::new();
        let bundle = d.path("bundle");
        // Sorted by name: multi_prog and tp_counter load before verifier_reject fails.
        pack(
            &bundle,
            &[
                "tp_counter.bpf.o",
                "multi_prog.bpf.o",
                "verifier_reject.bpf.o",
            ],
        );
        let getpid_before = programs_named("count_getpid").len();
        let getuid_before = programs_named("on_getuid").len();
        // Run folders another (failed) run may have left are not this test's to judge.
        let runs_before = leftovers("ebpf_layout_run_");
        let pins = Pins::new("all-or-nothing");
        for detached in [true, false] {
            let mut load = ebpf_layout();
            load.arg("load").arg(&bundle).args(["--display", "text"]);
            if detached {
                load.arg("--pin").arg(&pins.0).arg("--detach");
            } else {
                load.args(["--duration", "1"]);
            }
            let assert = load.assert();
            if detached {
                // The images before the rejected one were loaded (and said so)...
                let stdout = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
                assert!(
                    stdout.contains("loaded multi_prog") && stdout.contains("loaded tp_counter"),
                    "{stdout}"
                );
            }
            assert.code(2).stderr(
                contains("verifier_reject")
                    .and(contains("nothing of the bundle stays loaded"))
                    .and(contains("invalid mem access")),
            );
            // ...and whatever loaded before the rejected image was unloaded again.
            wait_until("the bundle's other programs to be unloaded", || {
                programs_named("count_getpid").len() <= getpid_before
                    && programs_named("on_getuid").len() <= getuid_before
            });
            assert!(!pins.0.exists(), "no pin folder is left");
        }
        assert_eq!(
            leftovers("ebpf_layout_run_"),
            runs_before,
            "a run folder is left"
        );
    }
);

kernel_test!(
    a_bundle_sends_program_options_to_the_image_that_has_them,
    [Need::Kernel, Need::Bpffs],
    || {
        let _serial = serial();
        let d = Dir::new();
        let bundle = d.path("bundle");
        pack(&bundle, &["tp_counter.bpf.o", "multi_prog.bpf.o"]);
        ebpf_layout()
            .arg("load")
            .arg(&bundle)
            .args(["--program", "nope", "--duration", "1"])
            .assert()
            .code(2)
            .stderr(
                contains("no image of the bundle has a program named 'nope'")
                    .and(contains("multi_prog").and(contains("tp_counter"))),
            );
        let pins = Pins::new("routed");
        load_detached(
            bundle.to_str().unwrap(),
            &pins.0,
            &["--program", "on_getuid"],
        );
        let found = ps(&pins.0);
        let programs_of = |name: &str| -> Vec<String> {
            found[0]["images"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["name"] == name)
                .unwrap()["programs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["name"].as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(programs_of("multi_prog"), ["on_getuid"]);
        assert_eq!(programs_of("tp_counter"), ["count_getpid"]);
    }
);

#[test]
fn a_bundle_refuses_perf_attach_points_before_loading_anything() {
    let d = Dir::new();
    let bundle = d.path("bundle");
    pack(&bundle, &["perf_sample.bpf.o", "tp_counter.bpf.o"]);
    // Every image of a bundle is pinned while it runs; perf links are not pinned.
    ebpf_layout()
        .arg("load")
        .arg(&bundle)
        .args(["--attach", "perf:cpu-clock:99", "--duration", "1"])
        .assert()
        .failure()
        .stderr(
            contains("--attach perf:cpu-clock:99: a bundle's images are loaded pinned")
                .and(contains(":NAME)")),
        );
}
