//! Fix-ups that make bumblebee-style objects load with libbpf.
//!
//! bee declares its event buffers with a record type, `__type(value, struct event)`, so that
//! the record layout can be read from BTF. The kernel accepts a `BPF_MAP_TYPE_RINGBUF` only
//! with `key_size == value_size == 0`, and a `BPF_MAP_TYPE_PERF_EVENT_ARRAY` only with 4-byte
//! keys and values (CPU index → perf event fd), so libbpf's map creation fails as written.
//!
//! Before load we set the sizes the kernel wants on the opened object. For a ring buffer,
//! libbpf's first `BPF_MAP_CREATE` still passes the declared BTF value type, which no longer
//! matches the size; the kernel refuses it and libbpf retries without BTF, which succeeds
//! (libbpf's "Retrying without BTF" warning is captured and dropped). Perf event arrays are
//! created without BTF by libbpf anyway. The declared type stays in the object's BTF, where
//! [`super::btf_decode::map_types`] finds it to decode the records.

use libbpf_rs::{MapType, OpenObject};

use super::capture;
use super::errors::LoadError;

/// Perf event arrays map a CPU index (u32) to a perf event fd (u32).
const PERF_EVENT_ARRAY_ENTRY_SIZE: u32 = 4;

/// Applies the bee fix-ups to every ring buffer and perf event array of `open`; returns the
/// names of the maps it changed.
pub(crate) fn fix_event_maps(open: &mut OpenObject) -> Result<Vec<String>, LoadError> {
    let mut fixed = Vec::new();
    for mut map in open.maps_mut() {
        let name = map.name().to_string_lossy().into_owned();
        let (key_size, value_size) = match map.map_type() {
            MapType::RingBuf | MapType::UserRingBuf => (0, 0),
            MapType::PerfEventArray => (PERF_EVENT_ARRAY_ENTRY_SIZE, PERF_EVENT_ARRAY_ENTRY_SIZE),
            _ => continue,
        };
        if map.key_size() == key_size && map.value_size() == value_size {
            continue;
        }
        let result = map
            .set_key_size(key_size)
            .and_then(|()| map.set_value_size(value_size));
        if let Err(err) = result {
            return Err(LoadError::Open {
                reason: format!(
                    "could not adjust event map '{name}' for the kernel: {}",
                    capture::describe(&err)
                ),
            });
        }
        fixed.push(name);
    }
    Ok(fixed)
}
