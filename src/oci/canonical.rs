//! Canonical JSON: object keys sorted, no insignificant white space.
//!
//! Digests are taken over the bytes this module produces, never over a struct
//! serialised a second time, so the same value always gives the same digest.

use serde::Serialize;

/// Serialises `value` canonically: keys sorted at every depth, compact.
///
/// Fails only if the value cannot be represented as JSON (e.g. a map with
/// non-string keys), which our own types never are.
pub fn to_vec<T: Serialize>(value: &T) -> serde_json::Result<Vec<u8>> {
    // serde_json's `Value` keeps object keys in a BTreeMap (the `preserve_order`
    // feature is off), so going through it sorts every level.
    let value = serde_json::to_value(value)?;
    serde_json::to_vec(&value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn keys_are_sorted_at_every_depth_and_output_is_compact() {
        let mut inner = HashMap::new();
        inner.insert("z", 1);
        inner.insert("a", 2);
        let mut outer = HashMap::new();
        outer.insert("b", inner.clone());
        outer.insert("a", inner);
        let bytes = to_vec(&outer).unwrap();
        assert_eq!(bytes, br#"{"a":{"a":2,"z":1},"b":{"a":2,"z":1}}"#);
    }
}
