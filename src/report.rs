//! What integrity checks report: one finding per problem, with a severity and a stable
//! code, shared by `verify`, the signature checks and every report that lists problems.

use serde::Serialize;

/// How a problem counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Reported, but the layout is intact (unless `--strict`).
    Warning,
    /// The layout is damaged: exit code 1.
    Error,
}

/// One finding, naming the entry, the digest, and what was expected and found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Error, or warning.
    pub severity: Severity,
    /// A stable machine-readable code (`digest-mismatch`, `missing-blob`, …).
    pub code: &'static str,
    /// The entry concerned, relative to the root (`blobs/sha256/…`, `index.json`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    /// The digest concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// What the referencing descriptor or the spec says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// What is there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub found: Option<String>,
    /// A sentence for people.
    pub message: String,
}
