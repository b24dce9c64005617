//! `verify`: complete offline integrity verification of a layout or archive.
//!
//! Two passes. First every stored entry is listed and every blob hashed from its
//! content ([`ImageSource::scan`]: both cores for a directory, one streaming pass for an
//! archive). Then the reference graph is walked from `index.json` — nested indexes,
//! manifests, configs, layers and subjects — and every descriptor is compared with what
//! is stored. Nothing stops at the first problem: the report lists them all.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use serde::Serialize;

use crate::elf::{self, ByteOrder};
use crate::graph::{
    is_index, is_manifest, stored_referrers, Document, Failure, Role, Walker, MAX_DEPTH,
};
use crate::image::{Format, ResolveError};
use crate::kernel_btf::KernelBtfError;
use crate::oci::companion::{is_companion_entry, Companions, BTF_SUFFIX};
use crate::oci::cosign::is_signature_entry;
use crate::oci::media_type::{
    DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, IMAGE_LAYOUT_VERSION, OCI_INDEX, OCI_MANIFEST,
};
use crate::oci::reference::check_grammar;
use crate::oci::{Descriptor, Digest, ImageIndex, ImageManifest, Platform, RefName, Selector};
use crate::source::{EntryKind, Hashing, ImageSource, StoredEntry};
use crate::store::StoreError;

/// Version of the JSON report schema (see docs/verify.md).
pub const REPORT_VERSION: u32 = 1;

pub use crate::report::{Problem, Severity};

/// The result of verifying one reference.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The reference as given.
    pub reference: String,
    /// No errors (and, with `strict`, no warnings).
    pub ok: bool,
    /// Whether warnings counted as errors.
    pub strict: bool,
    /// Images checked (manifests reached, signature manifests apart).
    pub images: usize,
    /// Signature manifests checked (cosign's `sha256-….sig` entries); not in `images`,
    /// so every command counts images alike.
    pub signatures: usize,
    /// Blobs checked.
    pub blobs: usize,
    /// Bytes hashed.
    pub bytes: u64,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Number of errors.
    pub errors: usize,
    /// Number of warnings.
    pub warnings: usize,
    /// Every finding, errors first.
    pub problems: Vec<Problem>,
}

/// What to verify and how.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Count warnings (orphans, unknown files, duplicate names, untagged manifests) as
    /// errors, and hash every stored blob. Without it, a whole-store verify hashes what
    /// the graph reaches and the blobs small enough to be documents
    /// ([`crate::limits::Limits::max_manifest_size`]); a larger unreferenced blob is
    /// reported by name and size, unhashed.
    pub strict: bool,
    /// What to trust (`--key`, `--policy`): when given, every selected image (signature
    /// images excepted) must be accepted by [`crate::trust::evaluate`] under the name it is
    /// selected by (each of its names for `PATH`, none for `PATH@sha256:…`), else an
    /// error with the decision's code (`unsigned`, `bad-signature`, `identity`,
    /// `rejected`). `load` applies the same rule.
    pub trust: Option<crate::trust::Trust>,
}

struct Checker<'a> {
    source: &'a dyn ImageSource,
    stored: BTreeMap<String, StoredEntry>,
    problems: Vec<Problem>,
    visited: BTreeSet<Digest>,
    images: usize,
    signatures: usize,
    /// Whether some document of the graph could not be read, so reachability is unknown.
    incomplete: bool,
}

/// Verifies `selector` of `source`: with [`Selector::All`] the whole store (and its
/// unreferenced or unknown files), otherwise the selected image's closure only.
///
/// Returns `Err` only when the source cannot be read at all (I/O, not a layout);
/// every integrity finding is a [`Problem`] in the report.
pub fn verify(
    source: &dyn ImageSource,
    reference: &str,
    selector: &Selector,
    options: &VerifyOptions,
) -> Result<Report, ResolveError> {
    let started = Instant::now();
    if let Selector::Name(name) = selector {
        // A name that is not there is a usage error, not damage; an index that cannot
        // be read is left to the checks below, which report why.
        if let Ok(index) = source.index() {
            if !index
                .manifests
                .iter()
                .any(|d| d.ref_name() == Some(name.as_str()))
            {
                return Err(ResolveError::ImageNotFound {
                    path: source.location().to_path_buf(),
                    wanted: format!("named {name:?}"),
                    available: crate::image::available_names(&index),
                });
            }
        }
    }
    let mut c = match selector {
        Selector::All if options.strict => check(source, source.scan()?, selector, options),
        // An unreferenced blob is a warning: hashing one (a 100 GiB sparse file) is not
        // worth unbounded time unless --strict asks. Hash every blob small enough to be a
        // document (referrers are found among those); that check is final unless the
        // graph reaches a larger blob, which is then hashed too and checked again.
        Selector::All => {
            let listing = source.scan_hashing(Hashing::Only(&BTreeSet::new()))?;
            let limit = source.limits().max_manifest_size;
            let small: BTreeSet<Digest> = listing
                .iter()
                .filter(|e| e.kind == EntryKind::File && e.size <= limit)
                .filter_map(|e| blob_digest(&e.path))
                .collect();
            let first = check(
                source,
                source.scan_hashing(Hashing::Only(&small))?,
                selector,
                options,
            );
            if first.visited.is_subset(&small) {
                first
            } else {
                let wanted: BTreeSet<Digest> = small.union(&first.visited).cloned().collect();
                let entries = source.scan_hashing(Hashing::Only(&wanted))?;
                check(source, entries, selector, options)
            }
        }
        // One image of a large store: find its closure from a listing (JSON documents are
        // hash-checked as they are read), then hash only the blobs it reaches.
        _ => {
            let listing = source.scan_hashing(Hashing::Only(&BTreeSet::new()))?;
            let reached = check(source, listing, selector, options).visited;
            let entries = source.scan_hashing(Hashing::Only(&reached))?;
            check(source, entries, selector, options)
        }
    };
    let bytes = c
        .stored
        .values()
        .filter(|e| e.digest.is_some())
        .map(|e| e.size)
        .sum();
    c.problems.sort_by_key(|p| std::cmp::Reverse(p.severity));
    let errors = c
        .problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .count();
    let warnings = c.problems.len() - errors;
    let blobs = c.visited.len();
    Ok(Report {
        reference: reference.to_string(),
        ok: errors == 0 && (!options.strict || warnings == 0),
        strict: options.strict,
        images: c.images,
        signatures: c.signatures,
        blobs,
        bytes,
        seconds: started.elapsed().as_secs_f64(),
        errors,
        warnings,
        problems: c.problems,
    })
}

/// The report for an archive that could not be read to its end because it was damaged on
/// the way ([`StoreError::Truncated`], [`StoreError::Corrupt`]): one error, `truncated` or
/// `corrupt-archive`, so that damage in transit is an integrity failure (exit 1, listed
/// under `problems`) like a blob that does not match its digest, not an unusable input.
/// `None` for any other error: the input is unusable.
pub fn damage_report(reference: &str, error: &StoreError, strict: bool) -> Option<Report> {
    // A cut names the entry it cut; a gzip CRC is checked at the end of a member, so the
    // entry being read then is only where the damage showed, not which blob it hit.
    let (code, entry, cut) = match error {
        StoreError::Truncated { entry, .. } => ("truncated", entry, true),
        StoreError::Corrupt { entry, .. } => ("corrupt-archive", entry, false),
        _ => return None,
    };
    let digest = entry
        .strip_prefix("blobs/sha256/")
        .filter(|_| cut)
        .or_else(|| entry.strip_prefix("./blobs/sha256/"))
        .and_then(|hex| Digest::parse(&format!("sha256:{hex}")).ok())
        .map(|d| d.to_string());
    Some(Report {
        reference: reference.to_string(),
        ok: false,
        strict,
        images: 0,
        signatures: 0,
        blobs: 0,
        bytes: 0,
        seconds: 0.0,
        errors: 1,
        warnings: 0,
        problems: vec![Problem {
            severity: Severity::Error,
            code,
            entry: (!entry.is_empty()).then(|| entry.clone()),
            digest,
            expected: None,
            found: None,
            message: error.to_string(),
        }],
    })
}

/// Runs every check of `selector` against the stored `entries`.
fn check<'a>(
    source: &'a dyn ImageSource,
    entries: Vec<StoredEntry>,
    selector: &Selector,
    options: &VerifyOptions,
) -> Checker<'a> {
    let mut c = Checker {
        source,
        stored: entries.into_iter().map(|e| (e.path.clone(), e)).collect(),
        problems: Vec::new(),
        visited: BTreeSet::new(),
        images: 0,
        signatures: 0,
        incomplete: false,
    };
    c.check_oci_layout();
    if let Some(index) = c.read_top_index() {
        let whole = matches!(selector, Selector::All);
        if whole {
            c.check_names(&index);
        }
        let mut roots: Vec<Descriptor> = match selector {
            Selector::All => index.manifests.clone(),
            Selector::Name(n) => index
                .manifests
                .iter()
                .filter(|d| d.ref_name() == Some(n.as_str()))
                .cloned()
                .collect(),
            Selector::Digest(d) => index
                .manifests
                .iter()
                .filter(|m| &m.digest == d)
                .cloned()
                .collect(),
        };
        if roots.is_empty() && !whole {
            c.error(
                "not-found",
                Some("index.json".into()),
                None,
                Some(selector_text(selector)),
                None,
                format!("index.json has no entry {}", selector_text(selector)),
            );
        }
        let companions = Companions::of(&index);
        if !whole {
            // Bundled kernel BTF (`sha256-<hex>.btf`) is checked with the image it belongs
            // to: `load` would use it.
            let btf: Vec<Descriptor> = roots
                .iter()
                .flat_map(|r| companions.of_kind(&r.digest, BTF_SUFFIX))
                .cloned()
                .collect();
            roots.extend(btf);
        }
        c.walk(&roots, whole);
        c.check_kernel_btf(&companions, &roots);
        if let Some(trust) = &options.trust {
            c.check_trust(&index, &roots, selector, trust);
        }
        // A document that could not be read (over a limit, malformed, too deep) hides what
        // it references: calling those blobs unreferenced would send them to gc.
        if whole && !c.incomplete {
            c.check_unreferenced();
        }
    }
    c
}

/// The digest a stored path names, if it is `blobs/sha256/<valid hex>`.
fn blob_digest(path: &str) -> Option<Digest> {
    let hex = path.strip_prefix("blobs/sha256/")?;
    Digest::parse(&format!("sha256:{hex}")).ok()
}

fn selector_text(selector: &Selector) -> String {
    match selector {
        Selector::All => "(all)".into(),
        Selector::Name(n) => format!("named {n:?}"),
        Selector::Digest(d) => format!("with digest {d}"),
    }
}

impl Checker<'_> {
    /// The trust rule for each selected image, under each name it is selected by.
    fn check_trust(
        &mut self,
        index: &ImageIndex,
        roots: &[Descriptor],
        selector: &Selector,
        trust: &crate::trust::Trust,
    ) {
        let mut seen = BTreeSet::new();
        for root in roots {
            // Signatures and bundled BTF are checked with the image they belong to.
            if crate::oci::companion::is_companion_entry(root) {
                continue;
            }
            let name = match selector {
                Selector::Digest(_) => None,
                _ => root.ref_name().map(str::to_string),
            };
            if !seen.insert((name.clone(), root.digest.clone())) {
                continue;
            }
            let decision = match crate::trust::evaluate(
                self.source,
                index,
                name.as_deref(),
                &root.digest,
                trust,
            ) {
                Ok(d) => d,
                Err(e) => {
                    self.error(
                        "trust",
                        Some("index.json".into()),
                        Some(root.digest.to_string()),
                        None,
                        None,
                        e.to_string(),
                    );
                    continue;
                }
            };
            if decision.accepted {
                continue;
            }
            let entry = match (&decision.signature_manifest, decision.code) {
                (Some(d), Some("bad-signature" | "identity")) => d.blob_path(),
                _ => "index.json".to_string(),
            };
            let code = decision.code.unwrap_or("untrusted");
            self.error(
                code,
                Some(entry),
                Some(root.digest.to_string()),
                Some(decision.rule.clone()),
                Some(match code {
                    "unsigned" => "no signature".to_string(),
                    "identity" => "signatures for another identity".to_string(),
                    "rejected" => "a reject requirement".to_string(),
                    _ => "no valid signature".to_string(),
                }),
                decision.reason.unwrap_or_default(),
            );
        }
    }

    fn error(
        &mut self,
        code: &'static str,
        entry: Option<String>,
        digest: Option<String>,
        expected: Option<String>,
        found: Option<String>,
        message: String,
    ) {
        self.problems.push(Problem {
            severity: Severity::Error,
            code,
            entry,
            digest,
            expected,
            found,
            message,
        });
    }

    /// An error about one blob, with no expected/found pair.
    fn blob_error(&mut self, code: &'static str, digest: &Digest, message: String) {
        self.error(
            code,
            Some(digest.blob_path()),
            Some(digest.to_string()),
            None,
            None,
            message,
        );
    }

    fn warning(
        &mut self,
        code: &'static str,
        entry: Option<String>,
        digest: Option<String>,
        message: String,
    ) {
        self.problems.push(Problem {
            severity: Severity::Warning,
            code,
            entry,
            digest,
            expected: None,
            found: None,
            message,
        });
    }

    fn check_oci_layout(&mut self) {
        match self.stored.get("oci-layout").map(|e| e.kind.clone()) {
            None => self.error(
                "oci-layout",
                Some("oci-layout".into()),
                None,
                Some(format!(
                    "{{\"imageLayoutVersion\":\"{IMAGE_LAYOUT_VERSION}\"}}"
                )),
                Some("nothing".into()),
                "oci-layout is missing".into(),
            ),
            Some(EntryKind::File) => match self.source.read_entry("oci-layout", 64 << 10) {
                Ok(bytes) => {
                    let version = serde_json::from_slice::<serde_json::Value>(&bytes)
                        .ok()
                        .and_then(|v| {
                            v.get("imageLayoutVersion")
                                .and_then(|v| v.as_str().map(str::to_string))
                        });
                    if version.as_deref() != Some(IMAGE_LAYOUT_VERSION) {
                        self.error(
                            "oci-layout",
                            Some("oci-layout".into()),
                            None,
                            Some(format!("imageLayoutVersion {IMAGE_LAYOUT_VERSION:?}")),
                            Some(
                                String::from_utf8_lossy(&bytes[..bytes.len().min(80)]).into_owned(),
                            ),
                            "oci-layout does not declare imageLayoutVersion 1.0.0".into(),
                        );
                    }
                }
                Err(e) => self.error(
                    "oci-layout",
                    Some("oci-layout".into()),
                    None,
                    None,
                    None,
                    e.to_string(),
                ),
            },
            Some(kind) => self.error(
                "unsafe-entry",
                Some("oci-layout".into()),
                None,
                Some("regular file".into()),
                Some(kind_text(&kind)),
                "oci-layout is not a regular file".into(),
            ),
        }
    }

    fn read_top_index(&mut self) -> Option<ImageIndex> {
        match self.stored.get("index.json").map(|e| e.kind.clone()) {
            None => {
                self.error(
                    "index",
                    Some("index.json".into()),
                    None,
                    None,
                    Some("nothing".into()),
                    "index.json is missing".into(),
                );
                return None;
            }
            Some(EntryKind::File) => {}
            Some(kind) => {
                self.error(
                    "unsafe-entry",
                    Some("index.json".into()),
                    None,
                    Some("regular file".into()),
                    Some(kind_text(&kind)),
                    "index.json is not a regular file".into(),
                );
                return None;
            }
        }
        let bytes = match self
            .source
            .read_entry("index.json", self.source.limits().max_index_size)
        {
            Ok(b) => b,
            Err(e) => {
                self.error(
                    "index",
                    Some("index.json".into()),
                    None,
                    None,
                    None,
                    e.to_string(),
                );
                return None;
            }
        };
        match ImageIndex::from_slice(&bytes) {
            Ok(i) => Some(i),
            Err(e) => {
                self.error(
                    "index",
                    Some("index.json".into()),
                    None,
                    None,
                    None,
                    format!("index.json is not valid: {e}"),
                );
                None
            }
        }
    }

    fn check_names(&mut self, index: &ImageIndex) {
        let mut by_name: BTreeMap<&str, BTreeSet<&Digest>> = BTreeMap::new();
        for d in &index.manifests {
            match d.ref_name() {
                Some(name) => {
                    by_name.entry(name).or_default().insert(&d.digest);
                    if let Err(reason) = check_grammar(name) {
                        self.error(
                            "invalid-name",
                            Some("index.json".into()),
                            Some(d.digest.to_string()),
                            Some("a ref name by the OCI grammar".into()),
                            Some(format!("{name:?}")),
                            format!("ref name {name:?} is invalid: {reason}"),
                        );
                    } else if let Err(e) = RefName::parse(name) {
                        self.warning(
                            "name-not-tag-safe",
                            Some("index.json".into()),
                            Some(d.digest.to_string()),
                            format!("{e} (a registry will not accept it as a tag)"),
                        );
                    }
                }
                None => self.warning(
                    "untagged",
                    Some("index.json".into()),
                    Some(d.digest.to_string()),
                    format!("index.json lists {} without a name", d.digest),
                ),
            }
        }
        let counts: BTreeMap<&str, usize> = index
            .manifests
            .iter()
            .filter_map(|d| d.ref_name())
            .fold(BTreeMap::new(), |mut m, n| {
                *m.entry(n).or_default() += 1;
                m
            });
        for (name, count) in counts.into_iter().filter(|(_, c)| *c > 1) {
            let digests = &by_name[name];
            if digests.len() > 1 {
                self.error(
                    "ambiguous-name",
                    Some("index.json".into()),
                    None,
                    None,
                    Some(digests.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")),
                    format!("name {name:?} is given to {} different manifests (skopeo takes the first, oras the last)", digests.len()),
                );
            } else {
                self.warning(
                    "duplicate-name",
                    Some("index.json".into()),
                    None,
                    format!("name {name:?} appears {count} times for the same manifest"),
                );
            }
        }
    }

    /// Walks the image graph from `roots` (and, for the whole store, the stored referrers
    /// of what they reach) with the one walker every command uses, then checks every
    /// reference against what is stored, every document read, and every program.
    fn walk(&mut self, roots: &[Descriptor], whole: bool) {
        let source = self.source;
        let limit = source.limits().max_manifest_size;
        let stored = &self.stored;
        // A blob that is absent, not a regular file, or not what its descriptor says is
        // reported by the reference checks below; the walker only learns it cannot
        // descend there.
        let mut read = |d: &Descriptor| -> Result<Option<Vec<u8>>, StoreError> {
            match stored.get(&d.digest.blob_path()) {
                Some(e) if e.kind == EntryKind::File => {}
                _ => return Ok(None),
            }
            match source.read_blob(d, limit) {
                Ok(bytes) => Ok(Some(bytes)),
                Err(StoreError::DigestMismatch { .. })
                | Err(StoreError::SizeMismatch { .. })
                | Err(StoreError::BlobMissing { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        };
        let mut walker = Walker::new(&mut read);
        for root in roots {
            walker.entry(root);
        }
        if whole {
            // Manifests stored without a name whose `subject` is reached (signatures,
            // attestations pushed as OCI referrers) belong to what they refer to: they
            // are checked like images, not reported as unreferenced.
            let intact: Vec<Descriptor> = stored
                .values()
                .filter(|e| e.kind == EntryKind::File && e.size <= limit)
                .filter_map(|e| {
                    let hex = e.path.strip_prefix("blobs/sha256/")?;
                    let digest = Digest::parse(&format!("sha256:{hex}")).ok()?;
                    (e.digest.as_ref() == Some(&digest) && !walker.has_reached(&digest))
                        .then(|| Descriptor::new("", digest, e.size))
                })
                .collect();
            let mut read_candidate = |d: &Descriptor| -> Result<Option<Vec<u8>>, StoreError> {
                source.read_blob(d, limit).map(Some)
            };
            let candidates = stored_referrers(intact, &mut read_candidate)
                .into_iter()
                .map(|(d, subject)| (Descriptor::new(OCI_MANIFEST, d.digest, d.size), subject))
                .collect();
            walker.referrers(candidates);
        }
        let closure = walker.finish();

        for edge in &closure.edges {
            self.check_blob(&edge.descriptor, &edge.referenced_by());
        }
        for (edge, failure) in &closure.failures {
            let d = &edge.descriptor;
            if !matches!(failure, Failure::Missing) {
                self.incomplete = true;
            }
            let what = if is_index(d) { "index" } else { "manifest" };
            match failure {
                // Reported by the reference checks.
                Failure::Missing => {}
                Failure::Unreadable(StoreError::TooLarge { size, limit, .. }) => self.error(
                    "too-large",
                    Some(d.digest.blob_path()),
                    Some(d.digest.to_string()),
                    Some(format!("at most {limit} bytes")),
                    Some(size.to_string()),
                    format!(
                        "{} is {size} bytes, over the {limit}-byte limit for JSON documents",
                        d.digest
                    ),
                ),
                Failure::Unreadable(e) => self.blob_error("unreadable", &d.digest, e.to_string()),
                Failure::Malformed(e) => {
                    self.blob_error("schema", &d.digest, format!("{what} {} is not valid: {e}", d.digest))
                }
                Failure::TooDeep => self.blob_error(
                    "too-deep",
                    &d.digest,
                    format!(
                        "{what} {} is reached through more than {MAX_DEPTH} nested indexes or subjects ({})",
                        d.digest,
                        edge.referenced_by()
                    ),
                ),
            }
        }
        for node in &closure.nodes {
            let d = &node.descriptor;
            match &node.document {
                Document::Index(index) => self.check_media_type_field(
                    d,
                    index.media_type.as_deref(),
                    &[OCI_INDEX, DOCKER_MANIFEST_LIST],
                ),
                Document::Manifest(manifest) => {
                    if node.role == Role::Entry && !is_manifest(d) && !is_index(d) {
                        self.error(
                            "media-type",
                            Some(d.digest.blob_path()),
                            Some(d.digest.to_string()),
                            Some(OCI_MANIFEST.into()),
                            Some(format!("{:?}", d.media_type)),
                            format!(
                                "index.json points at manifest {} with media type {:?}",
                                d.digest, d.media_type
                            ),
                        );
                    }
                    self.check_media_type_field(
                        d,
                        manifest.media_type.as_deref(),
                        &[OCI_MANIFEST, DOCKER_MANIFEST],
                    );
                    // Companions are not images: signatures are counted apart, bundled
                    // kernel BTF goes with its image.
                    if node.role == Role::Entry && is_signature_entry(d) {
                        self.signatures += 1;
                    } else if node.role != Role::Entry || !is_companion_entry(d) {
                        self.images += 1;
                    }
                }
                Document::Opaque => {}
            }
        }
        // A manifest's program is checked for each platform it is reached for (an index may
        // list the same little-endian object for amd64 and arm64), or once without one.
        type Platforms = BTreeMap<Option<String>, Option<Platform>>;
        let mut platforms: BTreeMap<&Digest, Platforms> = BTreeMap::new();
        for edge in closure.edges.iter().filter(|e| e.role.is_document()) {
            if let Some(node) = closure.node(&edge.descriptor.digest) {
                if matches!(node.document, Document::Manifest(_)) {
                    let platform = edge.platform.as_ref().map(Platform::normalized);
                    platforms
                        .entry(&node.descriptor.digest)
                        .or_default()
                        .insert(platform.as_ref().map(|p| p.to_string()), platform);
                }
            }
        }
        for (digest, mut wanted) in platforms {
            if wanted.len() > 1 {
                wanted.remove(&None);
            }
            let Some(node) = closure.node(digest) else {
                continue;
            };
            let Document::Manifest(manifest) = &node.document else {
                continue;
            };
            for platform in wanted.into_values() {
                self.check_program(&node.descriptor, manifest, platform.as_ref());
            }
        }
    }

    /// The kernel BTF bundled with each root image: the artifact is what its name says
    /// (artifact type, subject, releases), and every BTF blob that hashes right is BTF.
    /// (Digests and sizes were checked by the walk.)
    fn check_kernel_btf(&mut self, companions: &Companions, roots: &[Descriptor]) {
        let source = self.source;
        // An image under many names is checked once.
        let mut checked = BTreeSet::new();
        for root in roots.iter().filter(|r| !is_companion_entry(r)) {
            if !checked.insert(&root.digest) {
                continue;
            }
            let bundled = match crate::kernel_btf::bundled(source, companions, &root.digest) {
                Ok(b) => b,
                // Unreadable blobs were reported by the walk; the rest is about the artifact.
                Err(KernelBtfError::Store(
                    StoreError::DigestMismatch { .. }
                    | StoreError::SizeMismatch { .. }
                    | StoreError::BlobMissing { .. },
                )) => continue,
                Err(e) => {
                    self.error(
                        "kernel-btf",
                        root.ref_name().map(|n| format!("{n} (bundled kernel BTF)")),
                        Some(root.digest.to_string()),
                        None,
                        None,
                        e.to_string(),
                    );
                    continue;
                }
            };
            for (layer, btf) in bundled {
                let Ok(bytes) = source.read_blob(&layer, crate::kernel_btf::MAX_BTF_SIZE) else {
                    continue;
                };
                if let Err(reason) = crate::kernel_btf::check_btf(&bytes) {
                    self.error(
                        "kernel-btf",
                        Some(layer.digest.blob_path()),
                        Some(layer.digest.to_string()),
                        None,
                        None,
                        format!(
                            "the BTF bundled for kernel {} with image {}: {reason}",
                            btf.release, root.digest
                        ),
                    );
                }
            }
        }
    }

    /// The blob's existence, kind, size and digest. Returns whether it is intact.
    fn check_blob(&mut self, d: &Descriptor, parent: &str) -> bool {
        let first_visit = self.visited.insert(d.digest.clone());
        let path = d.digest.blob_path();
        let stored = self.stored.get(&path).cloned();
        let ok = match stored {
            None => {
                if first_visit {
                    self.error(
                        "missing-blob",
                        Some(path.clone()),
                        Some(d.digest.to_string()),
                        Some(format!("{} bytes", d.size)),
                        Some("nothing".into()),
                        format!("blob {} referenced by {parent} is missing", d.digest),
                    );
                }
                false
            }
            Some(e) if e.kind != EntryKind::File => {
                if first_visit {
                    self.error(
                        "unsafe-entry",
                        Some(path.clone()),
                        Some(d.digest.to_string()),
                        Some("regular file".into()),
                        Some(kind_text(&e.kind)),
                        format!(
                            "blob {} is a {}, not a regular file; it is not followed",
                            d.digest,
                            kind_text(&e.kind)
                        ),
                    );
                }
                false
            }
            Some(e) => {
                let mut ok = true;
                if e.size != d.size {
                    ok = false;
                    self.error(
                        "size-mismatch",
                        Some(path.clone()),
                        Some(d.digest.to_string()),
                        Some(d.size.to_string()),
                        Some(e.size.to_string()),
                        format!(
                            "blob {} referenced by {parent} has {} bytes, the descriptor says {}",
                            d.digest, e.size, d.size
                        ),
                    );
                }
                match &e.digest {
                    Some(found) if found != &d.digest => {
                        ok = false;
                        if first_visit {
                            self.error(
                                "digest-mismatch",
                                Some(path.clone()),
                                Some(d.digest.to_string()),
                                Some(d.digest.to_string()),
                                Some(found.to_string()),
                                format!("blob {} has content that hashes to {found}", d.digest),
                            );
                        }
                    }
                    _ => {}
                }
                ok
            }
        };
        ok
    }

    fn check_media_type_field(&mut self, d: &Descriptor, inner: Option<&str>, allowed: &[&str]) {
        if let Some(inner) = inner {
            if !d.media_type.is_empty()
                && inner != d.media_type
                && allowed.contains(&d.media_type.as_str())
            {
                self.error(
                    "media-type",
                    Some(d.digest.blob_path()),
                    Some(d.digest.to_string()),
                    Some(d.media_type.clone()),
                    Some(inner.to_string()),
                    format!(
                        "{} says mediaType {inner:?} but is referenced as {:?}",
                        d.digest, d.media_type
                    ),
                );
            }
        }
    }

    /// The program layer of an eBPF image must be a BPF ELF object whose byte order
    /// matches the platform.
    fn check_program(
        &mut self,
        d: &Descriptor,
        manifest: &ImageManifest,
        platform: Option<&Platform>,
    ) {
        // A config that cannot be read was reported by the blob checks already.
        let Ok(recognised) = crate::image::recognise(self.source, manifest) else {
            return;
        };
        let format = recognised.format;
        if format == Format::Other {
            return;
        }
        let layer = match recognised.program_layer(manifest) {
            Ok(l) => l.clone(),
            Err(reason) => {
                self.blob_error(
                    "not-ebpf",
                    &d.digest,
                    format!("{format} image {}: {reason}", d.digest),
                );
                return;
            }
        };
        let path = layer.digest.blob_path();
        if self.stored.get(&path).map(|e| &e.kind) != Some(&EntryKind::File) {
            return;
        }
        let header = match crate::image::format::read_program_header(self.source, format, &layer) {
            Ok(h) => h,
            // A bpfman layer is a tar+gzip: what it holds is only worth judging when the
            // blob is intact (a damaged one was reported by the blob checks).
            Err(e) if format == Format::Bpfman => {
                let intact =
                    self.stored.get(&path).and_then(|s| s.digest.as_ref()) == Some(&layer.digest);
                if intact {
                    self.error(
                        "not-bpf",
                        Some(path),
                        Some(layer.digest.to_string()),
                        Some("a tar+gzip layer holding a BPF ELF object".into()),
                        None,
                        format!(
                            "bytecode layer {} of bpfman image {}: {e}",
                            layer.digest, d.digest
                        ),
                    );
                }
                return;
            }
            Err(e) => {
                self.error(
                    "unreadable",
                    Some(path),
                    Some(layer.digest.to_string()),
                    None,
                    None,
                    e.to_string(),
                );
                return;
            }
        };
        match elf::classify(&header) {
            Err(e) => self.error(
                "not-bpf",
                Some(path),
                Some(layer.digest.to_string()),
                Some("a BPF ELF object".into()),
                Some(e.to_string()),
                format!(
                    "program layer {} of image {} is not a BPF object: {e}",
                    layer.digest, d.digest
                ),
            ),
            Ok(order) => {
                if let Some(p) = platform {
                    let p = p.normalized();
                    let want = if p.is_big_endian() {
                        ByteOrder::Big
                    } else {
                        ByteOrder::Little
                    };
                    if order != want {
                        self.error(
                            "byte-order",
                            Some(path),
                            Some(layer.digest.to_string()),
                            Some(format!("{want}-endian for {p}")),
                            Some(format!("{order}-endian")),
                            format!(
                                "program layer {} of image {} is {order}-endian, but the image is for {p}",
                                layer.digest, d.digest
                            ),
                        );
                    }
                }
            }
        }
    }

    /// Blobs nothing references, and files that have no place in a layout.
    fn check_unreferenced(&mut self) {
        let stored: Vec<StoredEntry> = self.stored.values().cloned().collect();
        for e in stored {
            let known = matches!(
                e.path.as_str(),
                "oci-layout" | "index.json" | "blobs" | "blobs/sha256"
            );
            if known {
                continue;
            }
            if let Some(hex) = e.path.strip_prefix("blobs/sha256/") {
                match Digest::parse(&format!("sha256:{hex}")) {
                    Ok(d) if self.visited.contains(&d) => {}
                    Ok(d) => match &e.digest {
                        // Hashed (small enough to be a document, or --strict): say when its
                        // content is not what its name says.
                        Some(found) if found != &d => self.problems.push(Problem {
                            severity: Severity::Warning,
                            code: "corrupt-unreferenced-blob",
                            entry: Some(e.path.clone()),
                            digest: Some(d.to_string()),
                            expected: Some(d.to_string()),
                            found: Some(found.to_string()),
                            message: format!("blob {d} ({} bytes) is not referenced by anything (gc would remove it), and it is corrupt: its content hashes to {found}", e.size),
                        }),
                        Some(_) => self.warning(
                            "unreferenced-blob",
                            Some(e.path.clone()),
                            Some(d.to_string()),
                            format!("blob {d} ({} bytes) is not referenced by anything (gc would remove it)", e.size),
                        ),
                        None => self.warning(
                            "unreferenced-blob",
                            Some(e.path.clone()),
                            Some(d.to_string()),
                            format!("blob {d} ({} bytes) is not referenced by anything (gc would remove it); not hashed, so not checked (--strict hashes it)", e.size),
                        ),
                    },
                    Err(err) => self.warning("unknown-file", Some(e.path.clone()), None, format!("{} is not named by a valid digest: {err}", e.path)),
                }
            } else {
                self.warning(
                    "unknown-file",
                    Some(e.path.clone()),
                    None,
                    format!(
                        "{} ({}) is not part of an OCI layout",
                        e.path,
                        kind_text(&e.kind)
                    ),
                );
            }
        }
    }
}

fn kind_text(kind: &EntryKind) -> String {
    match kind {
        EntryKind::File => "regular file".into(),
        EntryKind::Dir => "directory".into(),
        EntryKind::Symlink => "symlink".into(),
        EntryKind::Hardlink => "hard link".into(),
        EntryKind::Other(s) => s.clone(),
    }
}
