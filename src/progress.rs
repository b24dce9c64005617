//! How far long work has come, through a handle the caller passes in: the storage code
//! that hashes bulk data (scans, copies, archive reads and writes) adds what it hashed to
//! the [`Progress`] it was given, and a front end reads it to show a progress line. A
//! library user who passes [`Progress::none`] pays nothing and sees nothing; no global
//! counter makes one caller's work show in another's.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A shared count of bytes hashed; clones count into the same total. The default counts
/// nothing.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    hashed: Option<Arc<AtomicU64>>,
}

impl Progress {
    /// A handle that counts, starting at zero.
    pub fn new() -> Self {
        Self {
            hashed: Some(Arc::new(AtomicU64::new(0))),
        }
    }

    /// A handle that counts nothing (what a library call uses unless told otherwise).
    pub fn none() -> Self {
        Self::default()
    }

    /// Records `n` more bytes hashed.
    pub fn add_hashed(&self, n: u64) {
        if let Some(h) = &self.hashed {
            h.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Bytes hashed through this handle (and its clones) so far.
    pub fn hashed(&self) -> u64 {
        self.hashed
            .as_ref()
            .map_or(0, |h| h.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_one_count_and_none_counts_nothing() {
        let p = Progress::new();
        let q = p.clone();
        q.add_hashed(5);
        p.add_hashed(2);
        assert_eq!(p.hashed(), 7);
        let none = Progress::none();
        none.add_hashed(9);
        assert_eq!(none.hashed(), 0);
    }
}
