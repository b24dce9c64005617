//! `keygen`, `sign`, `verify --key`: real keys, real signatures checked by `openssl`, and
//! every way a signature can fail to vouch for an image.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use base64::Engine as _;
use ebpf_layout::oci::{Digest, Selector};
use serde_json::{json, Value};

use crate::util::*;

const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
const PASSWORD_ENV: &str = "EBPF_LAYOUT_PASSWORD";

/// A layout with two images and an unencrypted key pair `k` (encrypted keys cost a
/// PBKDF2 run per use; the tests that are about passwords make their own).
struct Signed {
    dir: Dir,
    root: PathBuf,
}

impl Signed {
    fn new() -> Self {
        let dir = Dir::new();
        let root = dir.path("bundle");
        pack(&root, &["tp_counter.bpf.o", "xdp_count.bpf.o"]);
        keygen(&dir, "k", "");
        Self { dir, root }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path(rel)
    }

    fn root_str(&self) -> &str {
        self.root.to_str().unwrap()
    }

    fn digest(&self, name: &str) -> String {
        entry(&self.root, name)["digest"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The signature manifest of image `name`, parsed.
    fn signature_manifest(&self, name: &str) -> (String, Value) {
        let sig_name = signature_name(&self.digest(name));
        let digest = entry(&self.root, &sig_name)["digest"]
            .as_str()
            .unwrap()
            .to_string();
        let manifest = serde_json::from_slice(&blob(&self.root, &digest)).unwrap();
        (digest, manifest)
    }
}

fn signature_name(digest: &str) -> String {
    format!("sha256-{}.sig", digest.strip_prefix("sha256:").unwrap())
}

fn keygen(dir: &Dir, prefix: &str, password: &str) -> Output {
    let out = ebpf_layout()
        .env(PASSWORD_ENV, password)
        .args(["keygen", "--output"])
        .arg(dir.path(prefix))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    out
}

fn sign(reference: &str, key: &Path, password: &str, extra: &[&str]) -> Output {
    ebpf_layout()
        .env(PASSWORD_ENV, password)
        .arg("sign")
        .arg(reference)
        .arg("--key")
        .arg(key)
        .args(extra)
        .output()
        .unwrap()
}

fn sign_ok(reference: &str, key: &Path) {
    let out = sign(reference, key, "", &[]);
    assert!(out.status.success(), "{}", text(&out));
}

fn verify_keys(target: &str, keys: &[&Path]) -> (i32, String) {
    let mut c = ebpf_layout();
    c.arg("verify").arg(target);
    for k in keys {
        c.arg("--key").arg(k);
    }
    let out = c.output().unwrap();
    (out.status.code().unwrap(), text(&out))
}

fn verify_json_keys(target: &str, keys: &[&Path]) -> (i32, Value) {
    let mut c = ebpf_layout();
    c.arg("verify").arg(target).arg("--json");
    for k in keys {
        c.arg("--key").arg(k);
    }
    let out = c.output().unwrap();
    (
        out.status.code().unwrap(),
        serde_json::from_slice(&out.stdout).unwrap(),
    )
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

fn problems(v: &Value) -> Vec<Value> {
    v["reports"][0]["problems"].as_array().unwrap().clone()
}

/// Replaces the signature manifest of image `name` by `manifest` (written as a new blob,
/// with index.json pointing at it): a tampering that leaves every digest consistent, so
/// only the signature check can catch it.
fn replace_signature_manifest(s: &Signed, name: &str, manifest: &Value) {
    let bytes = serde_json::to_vec(manifest).unwrap();
    let digest = put_blob(
        &s.root,
        "application/vnd.oci.image.manifest.v1+json",
        &bytes,
    )["digest"]
        .clone();
    let sig_name = signature_name(&s.digest(name));
    let mut index = index_json(&s.root);
    for d in index["manifests"].as_array_mut().unwrap() {
        if d["annotations"]["org.opencontainers.image.ref.name"] == sig_name.as_str() {
            d["digest"] = json!(digest);
            d["size"] = json!(bytes.len());
        }
    }
    std::fs::write(
        s.root.join("index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();
}

#[test]
fn keygen_writes_an_encrypted_pkcs8_key_that_openssl_reads_and_its_public_key() {
    if !require_tool("openssl") {
        return;
    }
    let dir = Dir::new();
    let out = keygen(&dir, "release", "correct horse");
    assert!(!text(&out).contains("UNENCRYPTED"), "{}", text(&out));
    let key = dir.path("release.key");
    let pem = std::fs::read_to_string(&key).unwrap();
    assert!(
        pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----\n"),
        "{pem}"
    );
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{mode:o}");
    let public = std::fs::read_to_string(dir.path("release.pub")).unwrap();
    assert!(
        public.starts_with("-----BEGIN PUBLIC KEY-----\n"),
        "{public}"
    );
    // openssl decrypts it with the password and derives the same public key.
    let derived = run_tool(
        "openssl",
        &[
            "pkey",
            "-in",
            key.to_str().unwrap(),
            "-passin",
            "pass:correct horse",
            "-pubout",
        ],
    );
    assert_eq!(String::from_utf8(derived).unwrap(), public);
    let text = String::from_utf8(run_tool(
        "openssl",
        &[
            "pkey",
            "-in",
            key.to_str().unwrap(),
            "-passin",
            "pass:correct horse",
            "-noout",
            "-text",
        ],
    ))
    .unwrap();
    assert!(
        text.contains("prime256v1") || text.contains("P-256"),
        "{text}"
    );
    let wrong = std::process::Command::new("openssl")
        .args([
            "pkey",
            "-in",
            key.to_str().unwrap(),
            "-passin",
            "pass:wrong",
            "-noout",
        ])
        .output()
        .unwrap();
    assert!(!wrong.status.success());
}

#[test]
fn an_empty_password_writes_an_unencrypted_key_and_says_so_loudly() {
    let dir = Dir::new();
    let out = keygen(&dir, "k", "");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("UNENCRYPTED"), "{stderr}");
    let pem = std::fs::read_to_string(dir.path("k.key")).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{pem}");
    if require_tool("openssl") {
        run_tool(
            "openssl",
            &["pkey", "-in", dir.path("k.key").to_str().unwrap(), "-noout"],
        );
    }
}

#[test]
fn keygen_refuses_to_overwrite_a_key_without_force() {
    let dir = Dir::new();
    keygen(&dir, "k", "");
    let before = snapshot(dir.root());
    let out = ebpf_layout()
        .env(PASSWORD_ENV, "")
        .args(["keygen", "--output"])
        .arg(dir.path("k"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("already exists") && text(&out).contains("--force"));
    assert_eq!(snapshot(dir.root()), before);
    // Only the public key existing is enough to refuse.
    std::fs::remove_file(dir.path("k.key")).unwrap();
    let out = ebpf_layout()
        .env(PASSWORD_ENV, "")
        .args(["keygen", "--output"])
        .arg(dir.path("k"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(!dir.path("k.key").exists());
    let out = ebpf_layout()
        .env(PASSWORD_ENV, "")
        .args(["keygen", "--force", "--output"])
        .arg(dir.path("k"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_ne!(
        std::fs::read(dir.path("k.pub")).unwrap(),
        before["k.pub"],
        "--force makes a new key"
    );
}

#[test]
fn the_stored_signature_is_cosign_format_and_verifies_with_openssl_over_the_stored_payload() {
    let s = Signed::new();
    sign_ok(s.root_str(), &s.path("k.key"));
    let image = s.digest("tp_counter");
    let (_, manifest) = s.signature_manifest("tp_counter");
    assert_eq!(
        manifest["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.oci.image.config.v1+json"
    );
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    let layer = &layers[0];
    assert_eq!(layer["mediaType"], SIMPLE_SIGNING);
    let config: Value = serde_json::from_slice(&blob(
        &s.root,
        manifest["config"]["digest"].as_str().unwrap(),
    ))
    .unwrap();
    assert_eq!(config["rootfs"]["type"], "layers");
    assert_eq!(config["rootfs"]["diff_ids"], json!([layer["digest"]]));

    // The payload: exactly cosign's simple-signing document for this digest.
    let payload = blob(&s.root, layer["digest"].as_str().unwrap());
    assert_eq!(
        String::from_utf8(payload.clone()).unwrap(),
        format!(
            r#"{{"critical":{{"identity":{{"docker-reference":"tp_counter"}},"image":{{"docker-manifest-digest":"{image}"}},"type":"cosign container image signature"}},"optional":null}}"#
        )
    );

    // The signature: base64 DER ECDSA over SHA-256 of the payload, as openssl checks it.
    let der = base64::engine::general_purpose::STANDARD
        .decode(layer["annotations"][SIGNATURE_ANNOTATION].as_str().unwrap())
        .unwrap();
    if require_tool("openssl") {
        std::fs::write(s.path("payload.json"), &payload).unwrap();
        std::fs::write(s.path("sig.der"), &der).unwrap();
        let out = run_tool(
            "openssl",
            &[
                "dgst",
                "-sha256",
                "-verify",
                s.path("k.pub").to_str().unwrap(),
                "-signature",
                s.path("sig.der").to_str().unwrap(),
                s.path("payload.json").to_str().unwrap(),
            ],
        );
        assert_eq!(String::from_utf8(out).unwrap().trim(), "Verified OK");
    }
    // And the whole layout verifies, strictly, with the key.
    let (code, out) = verify_keys(s.root_str(), &[&s.path("k.pub")]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("every image carries a valid signature"),
        "{out}"
    );
    let out = ebpf_layout()
        .args(["verify", "--strict"])
        .arg(&s.root)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn a_signature_by_another_key_fails_verify_naming_the_image() {
    let s = Signed::new();
    keygen(&s.dir, "other", "");
    sign_ok(s.root_str(), &s.path("k.key"));
    let (code, out) = verify_keys(s.root_str(), &[&s.path("other.pub")]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("[bad-signature]")
            && out.contains("tp_counter")
            && out.contains("xdp_count")
            && out.contains("does not verify with any trusted key"),
        "{out}"
    );
    // Any one of several keys will do.
    let (code, out) = verify_keys(s.root_str(), &[&s.path("other.pub"), &s.path("k.pub")]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn an_unsigned_image_fails_verify_with_a_key_naming_it() {
    let s = Signed::new();
    sign_ok(&format!("{}:tp_counter", s.root_str()), &s.path("k.key"));
    let (code, v) = verify_json_keys(s.root_str(), &[&s.path("k.pub")]);
    assert_eq!(code, 1);
    let p = problems(&v);
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0]["code"], "unsigned");
    assert_eq!(p[0]["digest"], s.digest("xdp_count").as_str());
    assert!(p[0]["message"].as_str().unwrap().contains("xdp_count"));
    // The signed one alone passes; without --key, nothing is required.
    let (code, out) = verify_keys(&format!("{}:tp_counter", s.root_str()), &[&s.path("k.pub")]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = verify_keys(s.root_str(), &[]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn a_payload_altered_in_place_fails_verify() {
    let s = Signed::new();
    sign_ok(s.root_str(), &s.path("k.key"));
    let (_, manifest) = s.signature_manifest("tp_counter");
    let payload = manifest["layers"][0]["digest"].as_str().unwrap();
    let path = s.root.join(Digest::parse(payload).unwrap().blob_path());
    let altered = std::fs::read_to_string(&path)
        .unwrap()
        .replace("tp_counter", "tp_countez");
    std::fs::write(&path, altered).unwrap();
    let (code, out) = verify_keys(s.root_str(), &[&s.path("k.pub")]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("digest-mismatch") && out.contains("[bad-signature]"),
        "{out}"
    );
    assert!(out.contains("tp_counter ("), "{out}");
}

#[test]
fn a_payload_replaced_consistently_fails_only_the_signature_check() {
    let s = Signed::new();
    sign_ok(s.root_str(), &s.path("k.key"));
    let (_, mut manifest) = s.signature_manifest("tp_counter");
    let old = blob(&s.root, manifest["layers"][0]["digest"].as_str().unwrap());
    let forged = String::from_utf8(old)
        .unwrap()
        .replace("\"tp_counter\"", "\"evil/probe\"");
    let digest = put_blob(&s.root, SIMPLE_SIGNING, forged.as_bytes())["digest"].clone();
    manifest["layers"][0]["digest"] = digest;
    manifest["layers"][0]["size"] = json!(forged.len());
    replace_signature_manifest(&s, "tp_counter", &manifest);
    // Every digest is consistent: plain verify is content.
    let (code, out) = verify_keys(s.root_str(), &[]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = verify_keys(s.root_str(), &[&s.path("k.pub")]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("[bad-signature]")
            && out.contains("tp_counter (")
            && !out.contains("xdp_count ("),
        "{out}"
    );
}

#[test]
fn a_tampered_signature_fails_verify() {
    let s = Signed::new();
    sign_ok(s.root_str(), &s.path("k.key"));
    for damage in ["flip", "garbage"] {
        let (_, mut manifest) = s.signature_manifest("xdp_count");
        let b64 = manifest["layers"][0]["annotations"][SIGNATURE_ANNOTATION]
            .as_str()
            .unwrap()
            .to_string();
        let replaced = match damage {
            "flip" => {
                let mut der = base64::engine::general_purpose::STANDARD
                    .decode(&b64)
                    .unwrap();
                let last = der.len() - 1;
                der[last] ^= 0x01;
                base64::engine::general_purpose::STANDARD.encode(der)
            }
            _ => "not base64!".to_string(),
        };
        manifest["layers"][0]["annotations"][SIGNATURE_ANNOTATION] = json!(replaced);
        replace_signature_manifest(&s, "xdp_count", &manifest);
        let (code, out) = verify_keys(s.root_str(), &[&s.path("k.pub")]);
        assert_eq!(code, 1, "{damage}: {out}");
        assert!(
            out.contains("[bad-signature]") && out.contains("xdp_count ("),
            "{damage}: {out}"
        );
        // Restore for the next round.
        manifest["layers"][0]["annotations"][SIGNATURE_ANNOTATION] = json!(b64);
        replace_signature_manifest(&s, "xdp_count", &manifest);
        let (code, out) = verify_keys(s.root_str(), &[&s.path("k.pub")]);
        assert_eq!(code, 0, "{out}");
    }
}

#[test]
fn a_signature_for_another_digest_fails_verify() {
    let s = Signed::new();
    sign_ok(&format!("{}:tp_counter", s.root_str()), &s.path("k.key"));
    // Present tp_counter's valid signature as xdp_count's.
    let (digest, manifest) = s.signature_manifest("tp_counter");
    let bytes = blob(&s.root, &digest);
    let mut index = index_json(&s.root);
    index["manifests"].as_array_mut().unwrap().push(json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": digest,
        "size": bytes.len(),
        "annotations": {"org.opencontainers.image.ref.name": signature_name(&s.digest("xdp_count"))}
    }));
    std::fs::write(
        s.root.join("index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["layers"].as_array().unwrap().len(), 1);
    let (code, out) = verify_keys(s.root_str(), &[&s.path("k.pub")]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("[bad-signature]")
            && out.contains("xdp_count (")
            && out.contains(&format!(
                "is for {}, not for this image",
                s.digest("tp_counter")
            )),
        "{out}"
    );
}

#[test]
fn an_encrypted_key_needs_the_right_password() {
    let s = Signed::new();
    keygen(&s.dir, "locked", "s3cret");
    let before = snapshot(&s.root);
    let out = sign(s.root_str(), &s.path("locked.key"), "wrong", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("wrong password") && text(&out).contains("locked.key"),
        "{}",
        text(&out)
    );
    assert_eq!(snapshot(&s.root), before, "nothing was written");
    // No password in the environment and no terminal to ask on.
    if require_tool("setsid") {
        let out = std::process::Command::new("setsid")
            .arg("-w")
            .arg(env!("CARGO_BIN_EXE_ebpf-layout"))
            .args(["sign", s.root_str(), "--key"])
            .arg(s.path("locked.key"))
            .env_remove(PASSWORD_ENV)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(text(&out).contains(PASSWORD_ENV), "{}", text(&out));
    }
    let out = sign(s.root_str(), &s.path("locked.key"), "s3cret", &[]);
    assert!(out.status.success(), "{}", text(&out));
    let (code, out) = verify_keys(s.root_str(), &[&s.path("locked.pub")]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn signing_again_with_the_same_key_changes_nothing_and_another_key_adds_a_signature() {
    let s = Signed::new();
    keygen(&s.dir, "second", "");
    keygen(&s.dir, "third", "");
    sign_ok(s.root_str(), &s.path("k.key"));
    let before = snapshot(&s.root);
    let out = sign(s.root_str(), &s.path("k.key"), "", &[]);
    assert!(
        text(&out).contains("already signed by this key"),
        "{}",
        text(&out)
    );
    assert_eq!(snapshot(&s.root), before, "re-signing wrote nothing");

    sign_ok(
        &format!("{}:tp_counter", s.root_str()),
        &s.path("second.key"),
    );
    let (_, manifest) = s.signature_manifest("tp_counter");
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2, "{manifest}");
    assert!(layers.iter().all(|l| l["mediaType"] == SIMPLE_SIGNING));
    let first = entry_in(&before, &signature_name(&s.digest("tp_counter")));
    assert_eq!(
        layers[0], first["layers"][0],
        "the first signature is kept as it was"
    );
    for key in ["k.pub", "second.pub"] {
        let (code, out) = verify_keys(&format!("{}:tp_counter", s.root_str()), &[&s.path(key)]);
        assert_eq!(code, 0, "{key}: {out}");
    }
    let (code, out) = verify_keys(s.root_str(), &[&s.path("second.pub")]);
    assert_eq!(code, 1, "xdp_count is signed by k only: {out}");
    let (code, out) = verify_keys(s.root_str(), &[&s.path("third.pub")]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("signature 2 (layer"),
        "both signatures are explained: {out}"
    );
}

/// The manifest named `name` in a [`snapshot`] of a layout.
fn entry_in(snap: &std::collections::BTreeMap<String, Vec<u8>>, name: &str) -> Value {
    let index: Value = serde_json::from_slice(&snap["index.json"]).unwrap();
    let d = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["annotations"]["org.opencontainers.image.ref.name"] == name)
        .unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let path = Digest::parse(&d).unwrap().blob_path();
    serde_json::from_slice(&snap[&path]).unwrap()
}

#[test]
fn signatures_survive_layout_to_archive_to_layout() {
    let s = Signed::new();
    sign_ok(s.root_str(), &s.path("k.key"));
    for archive in ["bundle.tar", "bundle.tar.gz"] {
        let tar = s.path(archive);
        let back = s.path(&format!("{archive}.back"));
        ebpf_layout()
            .arg("copy")
            .arg(&s.root)
            .arg(&tar)
            .assert()
            .success();
        let (code, out) = verify_keys(tar.to_str().unwrap(), &[&s.path("k.pub")]);
        assert_eq!(code, 0, "{archive}: {out}");
        ebpf_layout()
            .arg("copy")
            .arg(&tar)
            .arg(&back)
            .assert()
            .success();
        let (code, out) = verify_keys(back.to_str().unwrap(), &[&s.path("k.pub")]);
        assert_eq!(code, 0, "{archive}: {out}");
        assert_eq!(
            entry(&back, &signature_name(&s.digest("tp_counter")))["digest"],
            entry(&s.root, &signature_name(&s.digest("tp_counter")))["digest"]
        );
    }
}

#[test]
fn signatures_survive_single_image_copies() {
    let s = Signed::new();
    sign_ok(s.root_str(), &s.path("k.key"));
    let one = s.path("one");
    ebpf_layout()
        .arg("copy")
        .arg(format!("{}:tp_counter", s.root_str()))
        .arg(&one)
        .assert()
        .success();
    let (code, out) = verify_keys(one.to_str().unwrap(), &[&s.path("k.pub")]);
    assert_eq!(code, 0, "{out}");
    let tar = s.path("one.tar");
    ebpf_layout()
        .arg("copy")
        .arg(format!("{}:xdp_count", s.root_str()))
        .arg(&tar)
        .assert()
        .success();
    let (code, out) = verify_keys(tar.to_str().unwrap(), &[&s.path("k.pub")]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn list_and_inspect_show_which_images_are_signed() {
    let s = Signed::new();
    sign_ok(&format!("{}:tp_counter", s.root_str()), &s.path("k.key"));
    let out = ebpf_layout()
        .args(["list", "--json", "--all"])
        .arg(&s.root)
        .output()
        .unwrap();
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let by_name = |n: &str| {
        list["images"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == n)
            .cloned()
            .unwrap()
    };
    assert_eq!(by_name("tp_counter")["signatures"], 1);
    assert_eq!(by_name("xdp_count")["signatures"], 0);
    assert_eq!(
        by_name(&signature_name(&s.digest("tp_counter")))["format"],
        "signature"
    );
    let table = ebpf_layout().arg("list").arg(&s.root).output().unwrap();
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(table.lines().next().unwrap().ends_with("SIGNED"), "{table}");
    let out = ebpf_layout()
        .arg("inspect")
        .arg(format!("{}:tp_counter", s.root_str()))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Signatures:  1"),
        "{}",
        text(&out)
    );
    let out = ebpf_layout()
        .args(["inspect", "--json"])
        .arg(format!("{}:xdp_count", s.root_str()))
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["signatures"], 0);
}

#[test]
fn a_signed_single_image_layout_still_needs_no_name() {
    let dir = Dir::new();
    let root = dir.path("one");
    pack(&root, &["tp_counter.bpf.o"]);
    keygen(&dir, "k", "");
    sign_ok(root.to_str().unwrap(), &dir.path("k.key"));
    let out = ebpf_layout().arg("inspect").arg(&root).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Name:        tp_counter"));
}

#[test]
fn sign_refuses_archives_signature_images_and_damaged_images_writing_nothing() {
    let s = Signed::new();
    let tar = s.path("bundle.tar");
    ebpf_layout()
        .arg("copy")
        .arg(&s.root)
        .arg(&tar)
        .assert()
        .success();
    let out = sign(tar.to_str().unwrap(), &s.path("k.key"), "", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("layout directory"), "{}", text(&out));

    sign_ok(&format!("{}:tp_counter", s.root_str()), &s.path("k.key"));
    let sig = signature_name(&s.digest("tp_counter"));
    let out = sign(
        &format!("{}:{sig}", s.root_str()),
        &s.path("k.key"),
        "",
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("is a signature image"),
        "{}",
        text(&out)
    );

    // A damaged program is never signed.
    let m: Value = serde_json::from_slice(&blob(&s.root, &s.digest("xdp_count"))).unwrap();
    let program = s.root.join(
        Digest::parse(m["layers"][0]["digest"].as_str().unwrap())
            .unwrap()
            .blob_path(),
    );
    let mut bytes = std::fs::read(&program).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&program, bytes).unwrap();
    let before = snapshot(&s.root);
    let out = sign(s.root_str(), &s.path("k.key"), "", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(m["layers"][0]["digest"].as_str().unwrap()),
        "{}",
        text(&out)
    );
    assert_eq!(snapshot(&s.root), before);
}

#[test]
fn names_that_are_not_repositories_need_an_identity() {
    let dir = Dir::new();
    let root = dir.path("bundle");
    ebpf_layout()
        .args(["pack", "--tag", "Probe:v1", "-o"])
        .arg(&root)
        .arg(testdata("tp_counter.bpf.o"))
        .assert()
        .success();
    keygen(&dir, "k", "");
    let out = sign(root.to_str().unwrap(), &dir.path("k.key"), "", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--identity"), "{}", text(&out));
    let out = sign(
        root.to_str().unwrap(),
        &dir.path("k.key"),
        "",
        &["--identity", "registry.local/ebpf/probe", "-a", "build=42"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let digest = entry(&root, "Probe:v1")["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let sig = entry(&root, &signature_name(&digest));
    let m: Value = serde_json::from_slice(&blob(&root, sig["digest"].as_str().unwrap())).unwrap();
    let payload: Value =
        serde_json::from_slice(&blob(&root, m["layers"][0]["digest"].as_str().unwrap())).unwrap();
    assert_eq!(
        payload["critical"]["identity"]["docker-reference"],
        "registry.local/ebpf/probe"
    );
    assert_eq!(payload["optional"], json!({"build": "42"}));
}

#[test]
fn the_trust_rule_accepts_only_images_signed_by_a_trusted_key_for_their_name() {
    use ebpf_layout::sign::PublicKey;
    use ebpf_layout::store::ImageSource;
    use ebpf_layout::trust::{evaluate, Trust};
    let s = Signed::new();
    keygen(&s.dir, "other", "");
    sign_ok(&format!("{}:tp_counter", s.root_str()), &s.path("k.key"));
    let layout = ebpf_layout::layout::Layout::open(&s.root).unwrap();
    let index = layout.index().unwrap();
    let key = PublicKey::load(&s.path("k.pub")).unwrap();
    let other = PublicKey::load(&s.path("other.pub")).unwrap();
    let tp = Digest::parse(&s.digest("tp_counter")).unwrap();
    let xdp = Digest::parse(&s.digest("xdp_count")).unwrap();
    let keys = Trust::Keys(vec![key.clone()]);
    let ok = evaluate(&layout, &index, Some("tp_counter"), &tp, &keys).unwrap();
    assert!(ok.accepted, "{ok:?}");
    let vouched = ok.signature.unwrap();
    assert_eq!(vouched.signed_digest, tp);
    assert_eq!(&vouched.key, key.id());
    assert_eq!(vouched.identity, "tp_counter");
    let no = evaluate(&layout, &index, Some("xdp_count"), &xdp, &keys).unwrap();
    assert_eq!((no.accepted, no.code), (false, Some("unsigned")));
    let no = evaluate(
        &layout,
        &index,
        Some("tp_counter"),
        &tp,
        &Trust::Keys(vec![other]),
    )
    .unwrap();
    assert_eq!((no.accepted, no.code), (false, Some("bad-signature")));
    // tp_counter's signature used under another name: the identity does not match.
    let no = evaluate(&layout, &index, Some("xdp_count"), &tp, &keys).unwrap();
    assert_eq!((no.accepted, no.code), (false, Some("identity")), "{no:?}");
    assert!(no.reason.unwrap().contains("\"tp_counter\""));
    // The library's verify applies the same rule.
    let report = ebpf_layout::verify::verify(
        &layout,
        "bundle",
        &Selector::All,
        &ebpf_layout::verify::VerifyOptions {
            trust: Some(keys),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(!report.ok);
    assert_eq!(report.errors, 1);
}

#[test]
fn keys_made_by_openssl_sign_and_verify_and_other_algorithms_are_named() {
    if !require_tool("openssl") {
        return;
    }
    let s = Signed::new();
    let p = |rel: &str| s.path(rel).to_str().unwrap().to_string();
    // SEC1 (`EC PRIVATE KEY`), plain PKCS#8, and PKCS#8 encrypted by openssl's defaults.
    run_tool(
        "openssl",
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            &p("sec1.key"),
        ],
    );
    run_tool(
        "openssl",
        &[
            "pkcs8",
            "-topk8",
            "-nocrypt",
            "-in",
            &p("sec1.key"),
            "-out",
            &p("plain.key"),
        ],
    );
    run_tool(
        "openssl",
        &[
            "pkcs8",
            "-topk8",
            "-v2",
            "aes-256-cbc",
            "-in",
            &p("sec1.key"),
            "-out",
            &p("enc.key"),
            "-passout",
            "pass:pw",
        ],
    );
    run_tool(
        "openssl",
        &[
            "pkey",
            "-in",
            &p("sec1.key"),
            "-pubout",
            "-out",
            &p("openssl.pub"),
        ],
    );
    for (key, password) in [("sec1.key", ""), ("plain.key", ""), ("enc.key", "pw")] {
        let out = sign(s.root_str(), &s.path(key), password, &[]);
        assert!(out.status.success(), "{key}: {}", text(&out));
    }
    // One key: the three files sign identically (RFC 6979), so one signature per image.
    let (_, manifest) = s.signature_manifest("tp_counter");
    assert_eq!(manifest["layers"].as_array().unwrap().len(), 1);
    let (code, out) = verify_keys(s.root_str(), &[&s.path("openssl.pub")]);
    assert_eq!(code, 0, "{out}");

    run_tool(
        "openssl",
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            &p("rsa.key"),
        ],
    );
    run_tool(
        "openssl",
        &[
            "pkey",
            "-in",
            &p("rsa.key"),
            "-pubout",
            "-out",
            &p("rsa.pub"),
        ],
    );
    let (code, out) = verify_keys(s.root_str(), &[&s.path("rsa.pub")]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("an RSA key") && out.contains("P-256"), "{out}");
    let out = sign(s.root_str(), &s.path("rsa.key"), "", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("not an ECDSA P-256 private key"),
        "{}",
        text(&out)
    );
}

#[test]
fn skopeo_carries_an_image_and_its_signature_with_digests_intact() {
    if !require_tool("skopeo") {
        return;
    }
    let s = Signed::new();
    sign_ok(s.root_str(), &s.path("k.key"));
    let dest = s.path("elsewhere");
    let sig = signature_name(&s.digest("tp_counter"));
    for name in ["tp_counter", sig.as_str()] {
        run_tool(
            "skopeo",
            &[
                "copy",
                &format!("oci:{}:{name}", s.root_str()),
                &format!("oci:{}:{name}", dest.to_str().unwrap()),
            ],
        );
    }
    let (code, out) = verify_keys(dest.to_str().unwrap(), &[&s.path("k.pub")]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(entry(&dest, &sig)["digest"], entry(&s.root, &sig)["digest"]);
}

#[test]
fn removing_the_last_name_of_a_signed_image_removes_its_signature_too() {
    let s = Signed::new();
    sign_ok(s.root_str(), &s.path("k.key"));
    let digest = s.digest("tp_counter");
    let sig = signature_name(&digest);
    // Another name keeps the image listed: the signature stays.
    ebpf_layout()
        .arg("tag")
        .arg(format!("{}:tp_counter", s.root_str()))
        .arg("probe")
        .assert()
        .success();
    ebpf_layout()
        .arg("rm")
        .arg(format!("{}:tp_counter", s.root_str()))
        .assert()
        .success();
    entry(&s.root, &sig);
    // The last name goes: so does the signature; the other image keeps its own.
    ebpf_layout()
        .arg("rm")
        .arg(format!("{}:probe", s.root_str()))
        .assert()
        .success();
    let index = index_json(&s.root);
    let names: Vec<&str> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["annotations"]["org.opencontainers.image.ref.name"].as_str())
        .collect();
    assert!(!names.contains(&sig.as_str()), "{names:?}");
    assert!(
        names.contains(&signature_name(&s.digest("xdp_count")).as_str()),
        "{names:?}"
    );
    let (code, out) = verify_keys(s.root_str(), &[&s.path("k.pub")]);
    assert_eq!(code, 0, "{out}");
}
