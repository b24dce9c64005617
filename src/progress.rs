//! A process-wide count of bytes hashed, so a front end can show that long work is
//! moving (and how fast) without threading a callback through every layer.
//!
//! [`Hasher`](crate::oci::digest::Hasher) adds every byte it hashes; reading the count
//! costs nothing to the library when nobody looks at it.

use std::sync::atomic::{AtomicU64, Ordering};

static HASHED: AtomicU64 = AtomicU64::new(0);

/// Records `n` more bytes hashed.
pub fn add_hashed(n: u64) {
    HASHED.fetch_add(n, Ordering::Relaxed);
}

/// Bytes hashed by this process so far.
pub fn hashed() -> u64 {
    HASHED.load(Ordering::Relaxed)
}
