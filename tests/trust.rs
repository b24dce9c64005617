//! The one trust rule (issue #17): the signed identity is checked against the name the
//! image is used by, verify/load/list/inspect agree on multi-platform names, and a site's
//! containers-policy.json decides, with bad policy files refused naming the file and the
//! requirement. Real keys from `keygen`, real signatures from `sign`, the real binary.

use std::path::{Path, PathBuf};
use std::process::Output;

use base64::Engine as _;
use serde_json::{json, Value};

use crate::util::*;

const POLICY_ENV: &str = "EBPF_LAYOUT_POLICY";

/// A temporary site: a key pair `site` (trusted) and `other` (not), unencrypted.
pub struct Site {
    pub dir: Dir,
}

impl Site {
    pub fn new() -> Self {
        let dir = Dir::new();
        for prefix in ["site", "other"] {
            let out = ebpf_layout()
                .env("EBPF_LAYOUT_PASSWORD", "")
                .args(["keygen", "--output"])
                .arg(dir.path(prefix))
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", text(&out));
        }
        Self { dir }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path(rel)
    }

    /// `site.pub`.
    pub fn key(&self) -> PathBuf {
        self.path("site.pub")
    }

    /// Signs `reference` with `prefix.key`, extra arguments appended.
    pub fn sign(&self, reference: &str, prefix: &str, extra: &[&str]) {
        let out = ebpf_layout()
            .env("EBPF_LAYOUT_PASSWORD", "")
            .arg("sign")
            .arg(reference)
            .arg("--key")
            .arg(self.path(&format!("{prefix}.key")))
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "sign {reference}: {}", text(&out));
    }

    /// Writes `policy` as a file and returns its path.
    pub fn policy(&self, name: &str, policy: &Value) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, serde_json::to_vec_pretty(policy).unwrap()).unwrap();
        path
    }
}

pub fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// Runs the binary with `args`, no policy from the environment.
pub fn run(args: &[&str]) -> (i32, String) {
    let out = ebpf_layout()
        .env_remove(POLICY_ENV)
        .args(args)
        .output()
        .unwrap();
    (out.status.code().unwrap(), text(&out))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `verify --json` problem codes for one reference.
fn verify_codes(reference: &str, trust: &[&str]) -> (i32, Vec<String>) {
    let out = ebpf_layout()
        .env_remove(POLICY_ENV)
        .args(["verify", "--json", reference])
        .args(trust)
        .output()
        .unwrap();
    let v: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    let codes = v["reports"][0]["problems"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .map(|p| p["code"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default();
    (out.status.code().unwrap(), codes)
}

/// The TRUST decision `list --json` gives for the image named `name`.
fn list_decision(layout: &Path, name: &str, trust: &[&str]) -> Value {
    let out = ebpf_layout()
        .env_remove(POLICY_ENV)
        .args(["list", "--json", s(layout)])
        .args(trust)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let images = &listed["images"];
    images
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {images}"))["trust"]
        .clone()
}

/// The layout of the attack: tp_counter and xdp_count, each signed for its own name by
/// the site key, then their names swapped in index.json (a consistent edit: every digest
/// still matches).
pub fn swapped(site: &Site) -> PathBuf {
    let root = site.path("bundle");
    pack(&root, &["tp_counter.bpf.o", "xdp_count.bpf.o"]);
    site.sign(s(&root), "site", &[]);
    let mut index = index_json(&root);
    let find = |index: &Value, name: &str| {
        index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .position(|d| d["annotations"]["org.opencontainers.image.ref.name"] == name)
            .unwrap()
    };
    let (tp, xdp) = (find(&index, "tp_counter"), find(&index, "xdp_count"));
    let manifests = index["manifests"].as_array_mut().unwrap();
    manifests[tp]["annotations"]["org.opencontainers.image.ref.name"] = json!("xdp_count");
    manifests[xdp]["annotations"]["org.opencontainers.image.ref.name"] = json!("tp_counter");
    std::fs::write(root.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    root
}

#[test]
fn swapped_names_are_refused_by_verify_list_and_inspect_naming_the_signed_identity() {
    let site = Site::new();
    let root = swapped(&site);
    let key = site.key();
    let key_args = ["--key", s(&key)];
    // Without trust, the edit is invisible: every digest matches.
    assert_eq!(run(&["verify", s(&root)]).0, 0);
    for name in ["xdp_count", "tp_counter"] {
        let reference = format!("{}:{name}", root.display());
        let (code, codes) = verify_codes(&reference, &key_args);
        assert_eq!((code, codes), (1, vec!["identity".to_string()]), "{name}");
        let (code, out) = run(&["verify", &reference, "--key", s(&key)]);
        assert_eq!(code, 1);
        assert!(
            out.contains(&format!("used as \"{name}\"")) && out.contains("it was signed as"),
            "{out}"
        );
        let d = list_decision(&root, name, &key_args);
        assert_eq!(
            (d["accepted"].clone(), d["code"].clone()),
            (json!(false), json!("identity"))
        );
        let (code, out) = run(&["inspect", &reference, "--key", s(&key)]);
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("Trust:       refused [identity]"), "{out}");
    }
    let (code, codes) = verify_codes(s(&root), &key_args);
    assert_eq!(code, 1);
    assert_eq!(codes, ["identity", "identity"]);
}

#[test]
fn an_identity_given_by_the_user_is_accepted_when_meant_and_only_that_one() {
    let site = Site::new();
    let root = site.path("bundle");
    pack(&root, &["tp_counter.bpf.o", "xdp_count.bpf.o"]);
    site.sign(
        &format!("{}:tp_counter", root.display()),
        "site",
        &["--identity", "registry.local/ebpf/counter"],
    );
    let reference = format!("{}:tp_counter", root.display());
    let key = site.key();
    // Signed for another repository than its name's: refused by default…
    assert_eq!(
        verify_codes(&reference, &["--key", s(&key)]),
        (1, vec!["identity".to_string()])
    );
    // …accepted when the user says which identity is meant…
    let meant = [
        "--key",
        s(&key),
        "--identity",
        "registry.local/ebpf/counter",
    ];
    assert_eq!(verify_codes(&reference, &meant), (0, vec![]));
    assert_eq!(list_decision(&root, "tp_counter", &meant)["accepted"], true);
    // …and only that one.
    let wrong = ["--key", s(&key), "--identity", "registry.local/ebpf/other"];
    assert_eq!(
        verify_codes(&reference, &wrong),
        (1, vec!["identity".to_string()])
    );
    // --identity must be a repository, and needs --key.
    let (code, out) = run(&[
        "verify",
        &reference,
        "--key",
        s(&key),
        "--identity",
        "Bad Name",
    ]);
    assert_eq!(code, 2);
    assert!(
        out.contains("--identity \"Bad Name\" is not a repository name"),
        "{out}"
    );
    assert_eq!(run(&["verify", &reference, "--identity", "x/y"]).0, 2);
}

#[test]
fn an_image_used_by_digest_has_no_name_and_needs_an_explicit_identity() {
    let site = Site::new();
    let root = site.path("bundle");
    pack(&root, &["tp_counter.bpf.o"]);
    site.sign(s(&root), "site", &[]);
    let by_digest = format!("{}@{}", root.display(), digest_of(&root, "tp_counter"));
    let key = site.key();
    let (code, out) = run(&["verify", &by_digest, "--key", s(&key)]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("used without a name"), "{out}");
    assert_eq!(
        verify_codes(&by_digest, &["--key", s(&key), "--identity", "tp_counter"]),
        (0, vec![])
    );
    // A policy's default signedIdentity (matchRepoDigestOrExact) accepts a digest: the
    // digest the user pinned is the one signed.
    let policy = site.policy(
        "policy.json",
        &json!({"default": [{"type": "sigstoreSigned", "keyPath": s(&key)}]}),
    );
    assert_eq!(
        verify_codes(&by_digest, &["--policy", s(&policy)]),
        (0, vec![])
    );
    // …but only with a valid signature by the policy's key.
    let other = site.policy(
        "other.json",
        &json!({"default": [{"type": "sigstoreSigned", "keyPath": s(&site.path("other.pub"))}]}),
    );
    assert_eq!(
        verify_codes(&by_digest, &["--policy", s(&other)]),
        (1, vec!["bad-signature".to_string()])
    );
}

/// A multi-platform image `registry.local/ebpf/probe:1.0`: tp_counter for linux/amd64,
/// xdp_count for linux/arm64. Returns the layout, the index digest, the amd64 child's.
pub fn multi_platform(site: &Site) -> (PathBuf, String, String) {
    let root = site.path("mp");
    let out = ebpf_layout()
        .args([
            "pack",
            "--tag",
            "registry.local/ebpf/probe:1.0",
            "--platform",
        ])
        .arg(format!(
            "linux/amd64={}",
            testdata("tp_counter.bpf.o").display()
        ))
        .arg("--platform")
        .arg(format!(
            "linux/arm64={}",
            testdata("xdp_count.bpf.o").display()
        ))
        .arg("-o")
        .arg(&root)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let index_digest = digest_of(&root, "registry.local/ebpf/probe:1.0");
    let index: Value = serde_json::from_slice(&blob(&root, &index_digest)).unwrap();
    let child = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["platform"]["architecture"] == "amd64")
        .unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_string();
    (root, index_digest, child)
}

/// The signing situations of a multi-platform name, and whether the name is trusted.
pub const SITUATIONS: [(&str, bool); 4] = [
    ("nothing signed", false),
    ("only the amd64 manifest signed", false),
    ("the index signed", true),
    ("the index and the manifest signed", true),
];

/// Signs the multi-platform layout as `situation` says.
pub fn sign_situation(site: &Site, root: &Path, child: &str, situation: &str) {
    let name = format!("{}:registry.local/ebpf/probe:1.0", root.display());
    let child_ref = format!("{}@{child}", root.display());
    let identity = ["--identity", "registry.local/ebpf/probe"];
    match situation {
        "nothing signed" => {}
        "only the amd64 manifest signed" => site.sign(&child_ref, "site", &identity),
        "the index signed" => site.sign(&name, "site", &[]),
        _ => {
            site.sign(&name, "site", &[]);
            site.sign(&child_ref, "site", &identity);
        }
    }
}

#[test]
fn verify_list_and_inspect_agree_on_a_multi_platform_name_in_each_signing_situation() {
    for (situation, trusted) in SITUATIONS {
        let site = Site::new();
        let (root, _, child) = multi_platform(&site);
        sign_situation(&site, &root, &child, situation);
        let key = site.key();
        let name = format!("{}:registry.local/ebpf/probe:1.0", root.display());
        let (code, codes) = verify_codes(&name, &["--key", s(&key)]);
        assert_eq!(code == 0, trusted, "verify, {situation}: {codes:?}");
        // The same from the archive that crossed the air gap.
        let tar = site.path("mp.tar");
        assert_eq!(run(&["copy", s(&root), s(&tar)]).0, 0);
        let tar_name = format!("{}:registry.local/ebpf/probe:1.0", tar.display());
        let (tar_code, _) = verify_codes(&tar_name, &["--key", s(&key)]);
        assert_eq!(tar_code, code, "verify of the archive, {situation}");
        let d = list_decision(&root, "registry.local/ebpf/probe:1.0", &["--key", s(&key)]);
        assert_eq!(d["accepted"], trusted, "list, {situation}: {d}");
        let (code, out) = run(&[
            "inspect",
            &name,
            "--platform",
            "linux/amd64",
            "--key",
            s(&key),
        ]);
        assert_eq!(code, 0, "{out}");
        assert_eq!(
            out.contains("Trust:       accepted"),
            trusted,
            "inspect, {situation}: {out}"
        );
        // The per-platform manifest used by digest is covered by its own signature or by
        // a signed index listing it.
        let child_ref = format!("{}@{child}", root.display());
        let (code, out) = run(&[
            "inspect",
            &child_ref,
            "--key",
            s(&key),
            "--identity",
            "registry.local/ebpf/probe",
        ]);
        assert_eq!(code, 0, "{out}");
        assert_eq!(
            out.contains("Trust:       accepted"),
            situation != "nothing signed",
            "inspect by digest, {situation}: {out}"
        );
    }
}

/// A layout with four names in different scopes, `registry.local/ebpf/probe:1.0` and
/// `registry.local/ebpf/probe:2.0` signed by the site key, the others unsigned.
fn scoped(site: &Site) -> PathBuf {
    let root = site.path("scoped");
    for (object, name) in [
        ("tp_counter.bpf.o", "registry.local/ebpf/probe:1.0"),
        ("xdp_count.bpf.o", "registry.local/ebpf/probe:2.0"),
        ("tc_count.bpf.o", "registry.local/ebpf/tc:1.0"),
        ("multi_prog.bpf.o", "registry.local/net/multi:1.0"),
        ("legacy_maps.bpf.o", "elsewhere.example/legacy:1.0"),
    ] {
        let out = ebpf_layout()
            .args(["pack", "--tag", name, "-o", s(&root)])
            .arg(testdata(object))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
    }
    for name in [
        "registry.local/ebpf/probe:1.0",
        "registry.local/ebpf/probe:2.0",
    ] {
        site.sign(&format!("{}:{name}", root.display()), "site", &[]);
    }
    root
}

fn accepted_by(root: &Path, policy: &Path) -> Vec<(String, bool, String)> {
    let out = ebpf_layout()
        .env_remove(POLICY_ENV)
        .args(["list", "--json", s(root), "--policy", s(policy)])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let images = &listed["images"];
    images
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["format"] != "signature")
        .map(|i| {
            (
                i["name"].as_str().unwrap().to_string(),
                i["trust"]["accepted"].as_bool().unwrap(),
                i["trust"]["rule"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn the_most_specific_scope_wins_then_the_transport_default_then_default() {
    let site = Site::new();
    let root = scoped(&site);
    let key = site.key();
    let signed = json!([{"type": "sigstoreSigned", "keyPath": s(&key),
                         "signedIdentity": {"type": "matchRepository"}}]);
    let policy = site.policy(
        "policy.json",
        &json!({
            "default": [{"type": "insecureAcceptAnything"}],
            "transports": {"docker": {
                "registry.local": [{"type": "reject"}],
                "registry.local/ebpf": signed,
                "registry.local/ebpf/probe:2.0": [{"type": "reject"}],
                "registry.local/ebpf/tc": [{"type": "insecureAcceptAnything"}],
            }}
        }),
    );
    let got = accepted_by(&root, &policy);
    let expect = [
        // The namespace's sigstoreSigned, satisfied.
        (
            "registry.local/ebpf/probe:1.0",
            true,
            "(scope \"registry.local/ebpf\")",
        ),
        // name:tag beats the namespace.
        (
            "registry.local/ebpf/probe:2.0",
            false,
            "(scope \"registry.local/ebpf/probe:2.0\")",
        ),
        // The repository beats the namespace.
        (
            "registry.local/ebpf/tc:1.0",
            true,
            "(scope \"registry.local/ebpf/tc\")",
        ),
        // The registry host is the widest scope.
        (
            "registry.local/net/multi:1.0",
            false,
            "(scope \"registry.local\")",
        ),
        // No scope: the global default.
        ("elsewhere.example/legacy:1.0", true, "(default)"),
    ];
    assert_eq!(got.len(), expect.len(), "{got:?}");
    for (name, ok, rule) in expect {
        let (_, got_ok, got_rule) = got.iter().find(|(n, _, _)| n == name).unwrap();
        assert_eq!(*got_ok, ok, "{name}: {got:?}");
        assert!(
            got_rule.ends_with(rule) && got_rule.contains(s(&policy)),
            "{name}: {got_rule} vs {rule}"
        );
    }
    // verify and load read the same file the same way.
    let (code, codes) = verify_codes(s(&root), &["--policy", s(&policy)]);
    assert_eq!(code, 1);
    assert_eq!(codes, ["rejected", "rejected"]);
    // The transport's "" scope comes before the global default.
    let policy = site.policy(
        "transport-default.json",
        &json!({"default": [{"type": "insecureAcceptAnything"}],
                "transports": {"docker": {"": [{"type": "reject"}]}}}),
    );
    assert!(accepted_by(&root, &policy).iter().all(|(_, ok, _)| !ok));
    // Other transports never apply to a layout.
    let policy = site.policy(
        "other-transport.json",
        &json!({"default": [{"type": "insecureAcceptAnything"}],
                "transports": {"atomic": {"": [{"type": "reject"}]}}}),
    );
    assert!(accepted_by(&root, &policy).iter().all(|(_, ok, _)| *ok));
}

#[test]
fn each_requirement_type_and_key_form_decides_as_its_definition_says() {
    let site = Site::new();
    let root = scoped(&site);
    let key = site.key();
    let pem = std::fs::read(&key).unwrap();
    let key_data = base64::engine::general_purpose::STANDARD.encode(&pem);
    let other = site.path("other.pub");
    let probe = format!("{}:registry.local/ebpf/probe:1.0", root.display());
    let tc = format!("{}:registry.local/ebpf/tc:1.0", root.display());
    let by = |name: &str, requirement: Value| {
        let policy = site.policy(name, &json!({"default": [requirement]}));
        (
            verify_codes(&probe, &["--policy", s(&policy)]),
            verify_codes(&tc, &["--policy", s(&policy)]),
        )
    };
    let ok = (0, vec![]);
    let code = |c: &str| (1, vec![c.to_string()]);
    let repo = json!({"type": "matchRepository"});
    assert_eq!(
        by("any.json", json!({"type": "insecureAcceptAnything"})),
        (ok.clone(), ok.clone())
    );
    assert_eq!(
        by("reject.json", json!({"type": "reject"})),
        (code("rejected"), code("rejected"))
    );
    assert_eq!(
        by(
            "path.json",
            json!({"type": "sigstoreSigned", "keyPath": s(&key), "signedIdentity": repo})
        ),
        (ok.clone(), code("unsigned"))
    );
    assert_eq!(
        by(
            "paths.json",
            json!({"type": "sigstoreSigned", "keyPaths": [s(&other), s(&key)], "signedIdentity": repo})
        ),
        (ok.clone(), code("unsigned"))
    );
    assert_eq!(
        by(
            "data.json",
            json!({"type": "sigstoreSigned", "keyData": key_data, "signedIdentity": repo})
        ),
        (ok.clone(), code("unsigned"))
    );
    assert_eq!(
        by(
            "wrong-key.json",
            json!({"type": "sigstoreSigned", "keyPath": s(&other), "signedIdentity": repo})
        ),
        (code("bad-signature"), code("unsigned"))
    );
    // A relative keyPath is relative to the policy's folder.
    assert_eq!(
        by(
            "relative.json",
            json!({"type": "sigstoreSigned", "keyPath": "site.pub", "signedIdentity": repo})
        ),
        (ok.clone(), code("unsigned"))
    );
    // Every requirement of a scope must hold.
    let policy = site.policy(
        "all.json",
        &json!({"default": [{"type": "insecureAcceptAnything"}, {"type": "reject"}]}),
    );
    assert_eq!(
        verify_codes(&probe, &["--policy", s(&policy)]),
        code("rejected")
    );
}

#[test]
fn each_signed_identity_kind_compares_as_containers_image_does() {
    let site = Site::new();
    let root = site.path("bundle");
    // `probe` (no tag) signed as itself; `mirror.site/ebpf/tp` signed as the registry it
    // came from; `registry.local/ebpf/probe:1.0` signed as its repository.
    for (object, name) in [
        ("tp_counter.bpf.o", "probe"),
        ("xdp_count.bpf.o", "mirror.site/ebpf/tp"),
        ("tc_count.bpf.o", "registry.local/ebpf/probe:1.0"),
    ] {
        let out = ebpf_layout()
            .args(["pack", "--tag", name, "-o", s(&root)])
            .arg(testdata(object))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
    }
    site.sign(&format!("{}:probe", root.display()), "site", &[]);
    site.sign(
        &format!("{}:mirror.site/ebpf/tp", root.display()),
        "site",
        &["--identity", "registry.local/ebpf/tp"],
    );
    site.sign(
        &format!("{}:registry.local/ebpf/probe:1.0", root.display()),
        "site",
        &[],
    );
    let key = site.key();
    let check = |file: &str, identity: Value| -> Vec<bool> {
        let policy = site.policy(
            file,
            &json!({"default": [{"type": "sigstoreSigned", "keyPath": s(&key), "signedIdentity": identity}]}),
        );
        [
            "probe",
            "mirror.site/ebpf/tp",
            "registry.local/ebpf/probe:1.0",
        ]
        .iter()
        .map(|n| {
            let (code, codes) = verify_codes(
                &format!("{}:{n}", root.display()),
                &["--policy", s(&policy)],
            );
            assert!(code == 0 || codes == ["identity"], "{file} {n}: {codes:?}");
            code == 0
        })
        .collect()
    };
    assert_eq!(
        check("exact.json", json!({"type": "matchExact"})),
        [true, false, false]
    );
    // The default: a tagged name needs a tagged identity; cosign signs repositories.
    assert_eq!(
        check(
            "digest-or-exact.json",
            json!({"type": "matchRepoDigestOrExact"})
        ),
        [true, false, false]
    );
    assert_eq!(
        check("repo.json", json!({"type": "matchRepository"})),
        [true, false, true]
    );
    assert_eq!(
        check(
            "exact-ref.json",
            json!({"type": "exactReference", "dockerReference": "registry.local/ebpf/probe:1.0"})
        ),
        [false, false, false]
    );
    assert_eq!(
        check(
            "exact-repo.json",
            json!({"type": "exactRepository", "dockerRepository": "registry.local/ebpf/tp"})
        ),
        [false, true, false]
    );
    assert_eq!(
        check(
            "remap.json",
            json!({"type": "remapIdentity", "prefix": "mirror.site/ebpf", "signedPrefix": "registry.local/ebpf"})
        ),
        [true, true, false]
    );
}

/// Bad policy files: each (file name, content, words the error must contain).
fn bad_policies(site: &Site) -> Vec<(&'static str, String, Vec<&'static str>)> {
    let key = site.key();
    let k = s(&key).to_string();
    vec![
        ("not-json.json", "{ default: ".into(), vec!["not a containers-policy.json document"]),
        ("no-default.json", json!({"transports": {}}).to_string(), vec!["`default` is missing"]),
        ("empty.json", json!({"default": []}).to_string(), vec!["default is an empty list"]),
        (
            "unknown-type.json",
            json!({"default": [{"type": "acceptIfSunny"}]}).to_string(),
            vec!["default[0]", "unknown requirement type \"acceptIfSunny\""],
        ),
        (
            "gpg.json",
            json!({"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": k}]}).to_string(),
            vec!["default[0] (type \"signedBy\")", "GPG"],
        ),
        (
            "fulcio.json",
            json!({"default": [{"type": "insecureAcceptAnything"}], "transports": {"docker": {"registry.local": [
                {"type": "sigstoreSigned", "fulcio": {"caPath": "/x"}, "rekorPublicKeyPath": "/y",
                 "signedIdentity": {"type": "matchRepository"}}]}}}).to_string(),
            vec!["transports.docker[\"registry.local\"][0] (type \"sigstoreSigned\")", "\"fulcio\"", "keyless"],
        ),
        (
            "missing-key.json",
            json!({"default": [{"type": "sigstoreSigned", "keyPath": "/nonexistent/site.pub"}]}).to_string(),
            vec!["default[0] (type \"sigstoreSigned\")", "keyPath \"/nonexistent/site.pub\""],
        ),
        (
            "no-key.json",
            json!({"default": [{"type": "sigstoreSigned"}]}).to_string(),
            vec!["default[0] (type \"sigstoreSigned\")", "exactly one of keyPath"],
        ),
        (
            "private-key.json",
            json!({"default": [{"type": "sigstoreSigned", "keyPath": s(&site.path("site.key"))}]}).to_string(),
            vec!["keyPath", "not a public key"],
        ),
        (
            "unknown-field.json",
            json!({"default": [{"type": "reject", "because": "x"}]}).to_string(),
            vec!["default[0] (type \"reject\")", "unknown field \"because\""],
        ),
        (
            "unknown-identity.json",
            json!({"default": [{"type": "sigstoreSigned", "keyPath": k, "signedIdentity": {"type": "matchAnything"}}]}).to_string(),
            vec!["signedIdentity", "unknown type \"matchAnything\""],
        ),
        (
            "duplicate.json",
            r#"{"default":[{"type":"reject"}],"default":[{"type":"insecureAcceptAnything"}]}"#.into(),
            vec!["the field \"default\" appears twice"],
        ),
        (
            "bad-scope.json",
            json!({"default": [{"type": "reject"}], "transports": {"docker": {"Not A Scope": [{"type": "reject"}]}}}).to_string(),
            vec!["transports.docker[\"Not A Scope\"]"],
        ),
    ]
}

#[test]
fn a_bad_policy_exits_2_naming_the_file_and_the_requirement_for_every_command() {
    let site = Site::new();
    let root = site.path("bundle");
    pack(&root, &["tp_counter.bpf.o"]);
    let reference = format!("{}:tp_counter", root.display());
    for (file, content, words) in bad_policies(&site) {
        let path = site.path(file);
        std::fs::write(&path, &content).unwrap();
        for command in ["verify", "list", "inspect"] {
            let target = if command == "list" {
                s(&root).to_string()
            } else {
                reference.clone()
            };
            let (code, out) = run(&[command, &target, "--policy", s(&path)]);
            assert_eq!(code, 2, "{command} {file}: {out}");
            assert!(
                out.contains(&format!("policy {}", path.display())),
                "{command} {file}: {out}"
            );
            for w in &words {
                assert!(out.contains(w), "{command} {file}: {w:?} not in {out}");
            }
        }
    }
    let (code, out) = run(&[
        "verify",
        &reference,
        "--policy",
        s(&site.path("absent.json")),
    ]);
    assert_eq!(code, 2);
    assert!(
        out.contains("absent.json") && out.contains("cannot open"),
        "{out}"
    );
}

#[test]
fn key_and_policy_together_are_refused_and_the_environment_names_a_policy_too() {
    let site = Site::new();
    let root = site.path("bundle");
    pack(&root, &["tp_counter.bpf.o"]);
    let reference = format!("{}:tp_counter", root.display());
    let reject = site.policy("reject.json", &json!({"default": [{"type": "reject"}]}));
    let key = site.key();
    let (code, out) = run(&[
        "verify",
        &reference,
        "--key",
        s(&key),
        "--policy",
        s(&reject),
    ]);
    assert_eq!(code, 2);
    assert!(
        out.contains("--key cannot be combined with a policy"),
        "{out}"
    );
    // EBPF_LAYOUT_POLICY is --policy.
    let from_env = |args: &[&str]| {
        let out = ebpf_layout()
            .env(POLICY_ENV, &reject)
            .args(args)
            .output()
            .unwrap();
        (out.status.code().unwrap(), text(&out))
    };
    let (code, out) = from_env(&["verify", &reference]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("rejected"), "{out}");
    let (code, out) = from_env(&["verify", &reference, "--key", s(&key)]);
    assert_eq!(code, 2);
    assert!(out.contains(POLICY_ENV), "{out}");
    // An explicit --policy replaces the environment's.
    let any = site.policy(
        "any.json",
        &json!({"default": [{"type": "insecureAcceptAnything"}]}),
    );
    assert_eq!(from_env(&["verify", &reference, "--policy", s(&any)]).0, 0);
    // Set but empty is unset.
    let out = ebpf_layout()
        .env(POLICY_ENV, "")
        .args(["verify", &reference])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let (code, out) = from_env(&["list", s(&root)]);
    assert_eq!(code, 0);
    assert!(
        out.contains("TRUST") && out.contains("refused (rejected)"),
        "{out}"
    );
}

#[cfg(feature = "loader")]
mod kernel {
    use super::*;
    use crate::kit::kernel::{kernel_test, programs_named, serial, wait_until, Need};

    fn load(reference: &str, trust: &[&str]) -> (i32, String) {
        let out = ebpf_layout()
            .env_remove(POLICY_ENV)
            .arg("load")
            .arg(reference)
            .args(trust)
            .args(["--duration", "0.3", "--json"])
            .output()
            .unwrap();
        (out.status.code().unwrap(), text(&out))
    }

    kernel_test!(
        load_refuses_swapped_names_and_loads_nothing,
        [Need::Kernel],
        || {
            let _serial = serial();
            let site = Site::new();
            let root = swapped(&site);
            let key = site.key();
            let before = programs_named("count_getpid").len();
            // The name xdp_count now points at tp_counter's signed manifest.
            let (code, out) = load(
                &format!("{}:xdp_count", root.display()),
                &["--key", s(&key)],
            );
            assert_eq!(code, 1, "{out}");
            assert!(
                out.contains("signed as \"tp_counter\"") && !out.contains("\"loaded\""),
                "{out}"
            );
            wait_until("no count_getpid program left", || {
                programs_named("count_getpid").len() <= before
            });
            // With an explicit --identity for what it really is, the user means it.
            let (code, out) = load(
                &format!("{}:xdp_count", root.display()),
                &["--key", s(&key), "--identity", "tp_counter"],
            );
            assert_eq!(code, 0, "{out}");
        }
    );

    kernel_test!(
        load_agrees_with_verify_on_a_multi_platform_name_in_each_signing_situation,
        [Need::Kernel],
        || {
            let _serial = serial();
            for (situation, trusted) in SITUATIONS {
                let site = Site::new();
                let (root, _, child) = multi_platform(&site);
                sign_situation(&site, &root, &child, situation);
                let key = site.key();
                let name = format!("{}:registry.local/ebpf/probe:1.0", root.display());
                let (verify_code, _) = run(&["verify", &name, "--key", s(&key)]);
                let before = programs_named("count_getpid").len();
                let (code, out) = load(&name, &["--platform", "linux/amd64", "--key", s(&key)]);
                assert_eq!(code, verify_code, "{situation}: {out}");
                assert_eq!(code == 0, trusted, "{situation}: {out}");
                wait_until("count_getpid programs as before", || {
                    programs_named("count_getpid").len() <= before
                });
                let policy = site.policy(
                    "policy.json",
                    &json!({"default": [{"type": "reject"}], "transports": {"docker": {
                        "registry.local/ebpf": [{"type": "sigstoreSigned", "keyPath": s(&key),
                            "signedIdentity": {"type": "matchRepository"}}]}}}),
                );
                let (verify_code, _) = run(&["verify", &name, "--policy", s(&policy)]);
                let (code, out) = load(
                    &name,
                    &["--platform", "linux/amd64", "--policy", s(&policy)],
                );
                assert_eq!(
                    (code, code == 0),
                    (verify_code, trusted),
                    "policy, {situation}: {out}"
                );
            }
        }
    );

    kernel_test!(
        load_with_a_bad_policy_exits_2_and_loads_nothing,
        [Need::Kernel],
        || {
            let _serial = serial();
            let site = Site::new();
            let root = site.path("bundle");
            pack(&root, &["tp_counter.bpf.o"]);
            let before = programs_named("count_getpid").len();
            for (file, content, words) in bad_policies(&site) {
                let path = site.path(file);
                std::fs::write(&path, &content).unwrap();
                let (code, out) = load(
                    &format!("{}:tp_counter", root.display()),
                    &["--policy", s(&path)],
                );
                assert_eq!(code, 2, "{file}: {out}");
                assert!(out.contains(&format!("policy {}", path.display())), "{out}");
                for w in words {
                    assert!(out.contains(w), "{file}: {w:?} not in {out}");
                }
            }
            assert_eq!(programs_named("count_getpid").len(), before);
        }
    );
}
