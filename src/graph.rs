//! The image graph: one model of what a layout's documents reference, and one walker that
//! every command asks for "the closure of an image".
//!
//! index.json lists entries; an entry is a manifest or an index; an index lists children
//! (manifests or indexes); a manifest references a config and layers; either may name a
//! `subject`; a manifest stored in the layout whose subject is reached is a referrer
//! (signatures, SBOMs). Each reference has a [`Role`] given by *how it was reached*, never
//! by what the blob claims to be: a config or layer is a leaf and is never read as a
//! document, while an entry, a child, a subject or a referrer is read and descended.
//!
//! The walker remembers documents it descended by digest, and records every reference
//! ([`Edge`]) it met. A blob reached both as a layer of one image and as the manifest of
//! another is therefore both: it is descended as a manifest, and everything it references
//! is in the closure. (An earlier design remembered blobs by digest alone, so an image
//! first met as another image's layer was never descended, and gc deleted its blobs.)
//!
//! Nothing here does I/O: the walker reads documents through a closure the caller gives
//! it (a layout, an archive, or a verify scan with its own error reporting), and one depth
//! limit, [`MAX_DEPTH`], applies to every command.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::oci::manifest::SchemaError;
use crate::oci::media_type::{DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST};
use crate::oci::{Descriptor, Digest, ImageIndex, ImageManifest, Platform};

/// How many references deep a document may be from its index.json entry (8). Nested
/// indexes, subjects and their children count alike; an image nested through up to 8
/// indexes is read by every command, one more is refused by every command. Real layouts
/// nest one level (a multi-platform index).
pub const MAX_DEPTH: usize = 8;

/// How a blob was reached, which decides whether it is read as a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// An index.json entry: a manifest or an index.
    Entry,
    /// A manifest or index listed by an index.
    Child,
    /// A manifest's config.
    Config,
    /// A manifest's layer.
    Layer,
    /// The `subject` of a manifest or index.
    Subject,
    /// A manifest stored in the layout whose `subject` was reached.
    Referrer,
}

impl Role {
    /// Whether a blob reached this way is read and descended (a manifest or an index).
    pub fn is_document(self) -> bool {
        !matches!(self, Role::Config | Role::Layer)
    }

    /// A word for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Entry => "index.json entry",
            Role::Child => "index entry",
            Role::Config => "config",
            Role::Layer => "layer",
            Role::Subject => "subject",
            Role::Referrer => "referrer",
        }
    }
}

/// Whether a descriptor declares an image index (OCI or Docker manifest list).
pub fn is_index(descriptor: &Descriptor) -> bool {
    descriptor.media_type == OCI_INDEX || descriptor.media_type == DOCKER_MANIFEST_LIST
}

/// Whether a descriptor declares an image manifest (OCI or Docker).
pub fn is_manifest(descriptor: &Descriptor) -> bool {
    descriptor.media_type == OCI_MANIFEST || descriptor.media_type == DOCKER_MANIFEST
}

/// A document the walker read: what its bytes are.
// Documents are held once per node of a closure; boxing them would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Document {
    /// An image index.
    Index(ImageIndex),
    /// An image manifest.
    Manifest(ImageManifest),
    /// Neither (an artifact of another kind listed directly): it references nothing.
    Opaque,
}

impl Document {
    /// Parses `bytes` as what `descriptor` declares: an index media type must parse as an
    /// index, a manifest media type as a manifest; any other (or no) media type is judged
    /// by content — a manifest, else an index that lists something, else opaque.
    pub fn parse(descriptor: &Descriptor, bytes: &[u8]) -> Result<Document, SchemaError> {
        if is_index(descriptor) {
            return ImageIndex::from_slice(bytes).map(Document::Index);
        }
        if is_manifest(descriptor) {
            return ImageManifest::from_slice(bytes).map(Document::Manifest);
        }
        Ok(Self::classify(bytes))
    }

    /// What stored bytes are, judged by content alone.
    pub fn classify(bytes: &[u8]) -> Document {
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Document::Opaque;
        }
        if let Ok(m) = ImageManifest::from_slice(bytes) {
            return Document::Manifest(m);
        }
        match ImageIndex::from_slice(bytes) {
            // An index must list something, or any `{"schemaVersion":2}` would be one.
            Ok(i) if !i.manifests.is_empty() || i.subject.is_some() => Document::Index(i),
            _ => Document::Opaque,
        }
    }

    /// What it references, with the role of each reference, in document order.
    pub fn references(&self) -> Vec<(Role, &Descriptor)> {
        match self {
            Document::Index(i) => i
                .manifests
                .iter()
                .map(|d| (Role::Child, d))
                .chain(i.subject.iter().map(|d| (Role::Subject, d)))
                .collect(),
            Document::Manifest(m) => std::iter::once((Role::Config, &m.config))
                .chain(m.layers.iter().map(|d| (Role::Layer, d)))
                .chain(m.subject.iter().map(|d| (Role::Subject, d)))
                .collect(),
            Document::Opaque => Vec::new(),
        }
    }

    /// The subject it names, if any.
    pub fn subject(&self) -> Option<&Descriptor> {
        match self {
            Document::Index(i) => i.subject.as_ref(),
            Document::Manifest(m) => m.subject.as_ref(),
            Document::Opaque => None,
        }
    }
}

/// One reference met by the walker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// The document holding the reference (`None`: index.json, or a referrer found in
    /// storage).
    pub parent: Option<Digest>,
    /// How the blob was reached.
    pub role: Role,
    /// The descriptor as written in the parent.
    pub descriptor: Descriptor,
    /// References between the index.json entry (0) and this one.
    pub depth: usize,
    /// The platform that applies: the descriptor's own, else the one inherited from the
    /// index entry above it.
    pub platform: Option<Platform>,
}

impl Edge {
    /// Who references the blob, for messages: `index.json`, `manifest sha256:…`,
    /// `referrer of sha256:…`.
    pub fn referenced_by(&self) -> String {
        match (&self.parent, self.role) {
            (None, Role::Referrer) => "storage (a referrer)".to_string(),
            (None, _) => "index.json".to_string(),
            (Some(p), Role::Child) => format!("index {p}"),
            (Some(p), _) => format!("document {p}"),
        }
    }
}

/// A document of the closure: read, checked against its descriptor by the reader, and
/// parsed.
#[derive(Debug, Clone)]
pub struct Node {
    /// The descriptor it was first reached by as a document.
    pub descriptor: Descriptor,
    /// The role it was first reached in as a document.
    pub role: Role,
    /// Its bytes, as stored.
    pub bytes: Vec<u8>,
    /// What they are.
    pub document: Document,
}

/// Why a document of the closure could not be descended.
#[derive(Debug)]
pub enum Failure<E> {
    /// The reader says the blob is not stored (or not usable as stored).
    Missing,
    /// The reader failed.
    Unreadable(E),
    /// The bytes are not the document the descriptor declares.
    Malformed(SchemaError),
    /// The document lies deeper than [`MAX_DEPTH`].
    TooDeep,
}

/// Everything reached from some roots: every reference met, every document read, and
/// what could not be read.
#[derive(Debug)]
pub struct Closure<E> {
    /// Every reference, in walk order (a blob referenced twice appears twice).
    pub edges: Vec<Edge>,
    /// The documents read, children before parents (leaves of a document are edges,
    /// not nodes).
    pub nodes: Vec<Node>,
    /// Documents that could not be descended, with the reference that reached them.
    pub failures: Vec<(Edge, Failure<E>)>,
    node_at: HashMap<Digest, usize>,
}

impl<E> Default for Closure<E> {
    fn default() -> Self {
        Self {
            edges: Vec::new(),
            nodes: Vec::new(),
            failures: Vec::new(),
            node_at: HashMap::new(),
        }
    }
}

impl<E> Closure<E> {
    /// The document read for `digest`, if it was descended.
    pub fn node(&self, digest: &Digest) -> Option<&Node> {
        self.node_at.get(digest).map(|&i| &self.nodes[i])
    }

    /// Every digest reached, in any role.
    pub fn digests(&self) -> BTreeSet<Digest> {
        self.edges
            .iter()
            .map(|e| e.descriptor.digest.clone())
            .collect()
    }

    /// Every distinct blob reached, with the size its first reference declares, in walk
    /// order: what a copy must carry.
    pub fn blobs(&self) -> Vec<&Descriptor> {
        let mut seen = HashSet::new();
        self.edges
            .iter()
            .filter(|e| seen.insert(&e.descriptor.digest))
            .map(|e| &e.descriptor)
            .collect()
    }

    /// The digests reachable from `root` through the documents read (`root` included).
    pub fn reachable_from(&self, root: &Digest) -> BTreeSet<Digest> {
        let mut reached = BTreeSet::new();
        let mut work = vec![root.clone()];
        while let Some(d) = work.pop() {
            if !reached.insert(d.clone()) {
                continue;
            }
            if let Some(node) = self.node(&d) {
                work.extend(
                    node.document
                        .references()
                        .into_iter()
                        .map(|(_, c)| c.digest.clone()),
                );
            }
        }
        reached
    }

    /// Bytes of the distinct blobs reachable from each of `roots` (sizes as first
    /// declared): one table of sizes for all of them, and each root once however many
    /// times it is given (an image under 60,000 names is one image).
    pub fn sizes_from<'d>(
        &self,
        roots: impl IntoIterator<Item = &'d Digest>,
    ) -> BTreeMap<Digest, u64> {
        let sizes: HashMap<&Digest, u64> = self
            .edges
            .iter()
            .rev()
            .map(|e| (&e.descriptor.digest, e.descriptor.size))
            .collect();
        let mut out = BTreeMap::new();
        for root in roots {
            if !out.contains_key(root) {
                let total = self
                    .reachable_from(root)
                    .iter()
                    .filter_map(|d| sizes.get(d))
                    .sum();
                out.insert(root.clone(), total);
            }
        }
        out
    }
}

/// Which documents the walker reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every document: the whole closure.
    Closure,
    /// Only documents that declare an index media type: enough to find a manifest inside
    /// nested indexes without reading every manifest.
    Indexes,
}

/// Reads a document's bytes, checked against its descriptor: `Ok(None)` when it is not
/// stored (or not usable as stored, which the caller reports its own way).
pub type Reader<'r, E> = dyn FnMut(&Descriptor) -> Result<Option<Vec<u8>>, E> + 'r;

/// Walks the image graph from roots, reading documents through a caller's reader.
pub struct Walker<'r, E> {
    read: &'r mut Reader<'r, E>,
    scope: Scope,
    closure: Closure<E>,
    /// Documents descended (or being descended), by digest: the mark is set before
    /// descending, so a hostile descriptor naming an ancestor cannot loop.
    descended: HashSet<Digest>,
    /// Every digest reached so far, in any role.
    reached: HashSet<Digest>,
}

impl<'r, E> Walker<'r, E> {
    /// A walker reading whole closures through `read`.
    pub fn new(read: &'r mut Reader<'r, E>) -> Self {
        Self {
            read,
            scope: Scope::Closure,
            closure: Closure::default(),
            descended: HashSet::new(),
            reached: HashSet::new(),
        }
    }

    /// Reads only the documents `scope` allows.
    pub fn scope(mut self, scope: Scope) -> Self {
        self.scope = scope;
        self
    }

    /// Walks from an index.json entry.
    pub fn entry(&mut self, entry: &Descriptor) {
        self.visit(Edge {
            parent: None,
            role: Role::Entry,
            descriptor: entry.clone(),
            depth: 0,
            platform: entry.platform.clone(),
        });
    }

    /// Walks from every entry of `index` (index.json).
    pub fn entries(&mut self, index: &ImageIndex) {
        for entry in &index.manifests {
            self.entry(entry);
        }
    }

    /// Adds the referrers among `stored` (descriptors of documents found in storage, each
    /// with the subject it names): every one whose subject was reached, in any role, is
    /// walked as a [`Role::Referrer`], and so on for referrers of referrers. Linear in
    /// the number of candidates.
    pub fn referrers(&mut self, stored: Vec<(Descriptor, Digest)>) {
        let mut by_subject: HashMap<Digest, Vec<Descriptor>> = HashMap::new();
        for (d, subject) in stored {
            by_subject.entry(subject).or_default().push(d);
        }
        let mut next_edge = 0;
        while next_edge < self.closure.edges.len() {
            let reached = self.closure.edges[next_edge].descriptor.digest.clone();
            next_edge += 1;
            if let Some(referrers) = by_subject.remove(&reached) {
                for d in referrers {
                    self.visit(Edge {
                        parent: None,
                        role: Role::Referrer,
                        descriptor: d,
                        depth: 0,
                        platform: None,
                    });
                }
            }
        }
    }

    /// Whether `digest` was reached so far, in any role.
    pub fn has_reached(&self, digest: &Digest) -> bool {
        self.reached.contains(digest)
    }

    /// The closure walked so far.
    pub fn finish(self) -> Closure<E> {
        self.closure
    }

    fn visit(&mut self, edge: Edge) {
        self.reached.insert(edge.descriptor.digest.clone());
        self.closure.edges.push(edge.clone());
        if !edge.role.is_document() || self.descended.contains(&edge.descriptor.digest) {
            return;
        }
        if self.scope == Scope::Indexes && !is_index(&edge.descriptor) {
            return;
        }
        if edge.depth > MAX_DEPTH {
            self.closure.failures.push((edge, Failure::TooDeep));
            return;
        }
        self.descended.insert(edge.descriptor.digest.clone());
        let bytes = match (self.read)(&edge.descriptor) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => {
                self.closure.failures.push((edge, Failure::Missing));
                return;
            }
            Err(e) => {
                self.closure.failures.push((edge, Failure::Unreadable(e)));
                return;
            }
        };
        let parsed = match Document::parse(&edge.descriptor, &bytes) {
            // index.json lists images: an entry that is neither a manifest nor an index
            // is malformed (said as the manifest parser sees it), not an opaque leaf.
            Ok(Document::Opaque) if edge.role == Role::Entry => {
                ImageManifest::from_slice(&bytes).map(Document::Manifest)
            }
            other => other,
        };
        let document = match parsed {
            Ok(d) => d,
            Err(e) => {
                self.closure.failures.push((edge, Failure::Malformed(e)));
                return;
            }
        };
        let parent = Some(edge.descriptor.digest.clone());
        for (role, child) in document.references() {
            let platform = match role {
                Role::Child => child.platform.clone().or_else(|| edge.platform.clone()),
                Role::Subject => None,
                _ => edge.platform.clone(),
            };
            self.visit(Edge {
                parent: parent.clone(),
                role,
                descriptor: child.clone(),
                depth: edge.depth + 1,
                platform,
            });
        }
        self.closure
            .node_at
            .insert(edge.descriptor.digest.clone(), self.closure.nodes.len());
        self.closure.nodes.push(Node {
            descriptor: edge.descriptor,
            role: edge.role,
            bytes,
            document,
        });
    }
}

/// The stored documents that name a subject, among `stored` blobs: each candidate is read
/// through `read` (a failure or a non-document is skipped: such blobs are judged by the
/// checks of the blobs themselves) and returned with the subject it names. Callers pass
/// only blobs small enough to be JSON documents.
pub fn stored_referrers<E>(
    stored: impl IntoIterator<Item = Descriptor>,
    read: &mut Reader<'_, E>,
) -> Vec<(Descriptor, Digest)> {
    stored
        .into_iter()
        .filter_map(|d| {
            let bytes = read(&d).ok()??;
            let subject = Document::classify(&bytes).subject()?.digest.clone();
            Some((d, subject))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::media_type::EBPF_CONFIG;

    /// An in-memory store of documents by digest.
    struct Store(HashMap<Digest, Vec<u8>>);

    impl Store {
        fn put(&mut self, bytes: Vec<u8>, media_type: &str) -> Descriptor {
            let d = Descriptor::new(media_type, Digest::of(&bytes), bytes.len() as u64);
            self.0.insert(d.digest.clone(), bytes);
            d
        }

        fn manifest(&mut self, layers: &[&Descriptor]) -> Descriptor {
            let config = self.put(b"{}".to_vec(), EBPF_CONFIG);
            let json = serde_json::json!({
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": config,
                "layers": layers,
            });
            self.put(serde_json::to_vec(&json).unwrap(), OCI_MANIFEST)
        }

        fn index(&mut self, children: &[&Descriptor]) -> Descriptor {
            let json = serde_json::json!({
                "schemaVersion": 2,
                "mediaType": OCI_INDEX,
                "manifests": children,
            });
            self.put(serde_json::to_vec(&json).unwrap(), OCI_INDEX)
        }

        fn walk(&self, roots: &[&Descriptor]) -> Closure<()> {
            let mut read = |d: &Descriptor| Ok(self.0.get(&d.digest).cloned());
            let mut w = Walker::new(&mut read);
            for r in roots {
                w.entry(r);
            }
            w.finish()
        }
    }

    #[test]
    fn a_manifest_first_reached_as_a_layer_is_still_descended_as_an_entry() {
        let mut s = Store(HashMap::new());
        let program = s.put(b"\x7fELF victim".to_vec(), "application/octet-stream");
        let victim = s.manifest(&[&program]);
        let mut as_layer = victim.clone();
        as_layer.media_type = "application/octet-stream".into();
        let attacker = s.manifest(&[&as_layer]);
        let closure = s.walk(&[&attacker, &victim]);
        assert!(closure.failures.is_empty());
        assert!(closure.node(&victim.digest).is_some(), "victim descended");
        assert!(
            closure.digests().contains(&program.digest),
            "victim's layer reached"
        );
        let roles: BTreeSet<Role> = closure
            .edges
            .iter()
            .filter(|e| e.descriptor.digest == victim.digest)
            .map(|e| e.role)
            .collect();
        assert_eq!(roles, BTreeSet::from([Role::Layer, Role::Entry]));
    }

    #[test]
    fn a_layer_is_never_read_as_a_document_whatever_its_media_type() {
        let mut s = Store(HashMap::new());
        let inner = s.put(b"inner".to_vec(), "application/octet-stream");
        let hidden = s.manifest(&[&inner]);
        let outer = s.manifest(&[&hidden]); // declared a manifest, reached as a layer
        let closure = s.walk(&[&outer]);
        assert!(closure.node(&hidden.digest).is_none());
        assert!(!closure.digests().contains(&inner.digest));
    }

    #[test]
    fn one_depth_limit_for_nested_indexes() {
        for (levels, refused) in [(5, false), (7, false), (8, false), (9, true)] {
            let mut s = Store(HashMap::new());
            let program = s.put(b"prog".to_vec(), "application/octet-stream");
            let mut top = s.manifest(&[&program]);
            for _ in 0..levels {
                top = s.index(&[&top]);
            }
            let closure = s.walk(&[&top]);
            let too_deep = closure
                .failures
                .iter()
                .any(|(_, f)| matches!(f, Failure::TooDeep));
            assert_eq!(too_deep, refused, "{levels} levels");
            assert_eq!(closure.digests().contains(&program.digest), !refused);
        }
    }

    #[test]
    fn referrers_of_referrers_are_found_in_one_pass() {
        let mut s = Store(HashMap::new());
        let image = s.manifest(&[]);
        let mut chain = Vec::new();
        let mut subject = image.clone();
        for _ in 0..50 {
            let config = s.put(b"{}".to_vec(), EBPF_CONFIG);
            let json = serde_json::json!({
                "schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": config, "layers": [], "subject": subject,
            });
            subject = s.put(serde_json::to_vec(&json).unwrap(), OCI_MANIFEST);
            chain.push(subject.clone());
        }
        let mut read = |d: &Descriptor| Ok::<_, ()>(s.0.get(&d.digest).cloned());
        let candidates = stored_referrers(chain.iter().rev().cloned(), &mut read);
        let mut w = Walker::new(&mut read);
        w.entry(&image);
        w.referrers(candidates);
        let closure = w.finish();
        for r in &chain {
            assert!(closure.node(&r.digest).is_some());
        }
    }

    #[test]
    fn a_missing_document_is_a_failure_and_its_subtree_unknown() {
        let mut s = Store(HashMap::new());
        let m = s.manifest(&[]);
        let index = s.index(&[&m]);
        s.0.remove(&m.digest);
        let closure = s.walk(&[&index]);
        assert_eq!(closure.failures.len(), 1);
        assert!(matches!(closure.failures[0].1, Failure::Missing));
        assert_eq!(closure.failures[0].0.role, Role::Child);
    }

    #[test]
    fn closure_sizes_count_each_blob_once() {
        let mut s = Store(HashMap::new());
        let shared = s.put(vec![0; 100], "application/octet-stream");
        let a = s.manifest(&[&shared, &shared]);
        let closure = s.walk(&[&a]);
        let expected = a.size + 2 + 100; // manifest, config `{}`, the shared layer once
        let sizes = closure.sizes_from([&a.digest, &a.digest, &shared.digest]);
        assert_eq!(sizes.len(), 2);
        assert_eq!(sizes[&a.digest], expected);
        assert_eq!(sizes[&shared.digest], 100);
    }
}
