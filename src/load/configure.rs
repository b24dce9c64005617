//! Configuring an opened object before load, as its own user space would: global
//! variables (`--global`), map sizes (`--map-max-entries`), maps left for user space to size,
//! and maps pinned by name.
//!
//! Values are checked against the variables' BTF types (see [`crate::elf::GlobalVariable`])
//! before libbpf opens anything, so a typo is refused with the variable's type and nothing
//! is loaded.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use libbpf_rs::{MapCore as _, MapType, Object, OpenObject};

use super::capture;
use super::errors::LoadError;
use crate::elf::{GlobalVariable, ObjectInfo};

/// The kernel's default `perf_event_max_stack` (127 frames): the value size, in 8-byte
/// addresses, given to stack-trace maps declared without one (libbpf-tools' default too).
const DEFAULT_STACK_DEPTH: u32 = 127;
/// Where bpffs is mounted, for the scratch folder of maps pinned by name.
const BPFFS_ROOT: &str = "/sys/fs/bpf";
/// Names the scratch folders of concurrent loads in one process apart.
static SCRATCH_COUNTER: AtomicU32 = AtomicU32::new(0);

/// A `--global` checked against the object: the variable and the bytes to write.
#[derive(Debug, Clone)]
pub(crate) struct GlobalValue {
    /// The variable.
    pub variable: GlobalVariable,
    /// Its new value, in the object's byte order.
    pub bytes: Vec<u8>,
}

/// Checks every `--global NAME=VALUE` against the object's variables and encodes it.
pub(crate) fn check_globals(
    info: &ObjectInfo,
    globals: &[(String, String)],
) -> Result<Vec<GlobalValue>, LoadError> {
    let big_endian = info.byte_order == crate::elf::ByteOrder::Big;
    globals
        .iter()
        .map(|(name, value)| {
            let variable = info
                .variables
                .iter()
                .find(|v| v.name == *name)
                .ok_or_else(|| LoadError::UnknownGlobal {
                    name: name.clone(),
                    available: if info.variables.is_empty() {
                        "it has none, or no BTF to describe them".into()
                    } else {
                        let names: Vec<&str> =
                            info.variables.iter().map(|v| v.name.as_str()).collect();
                        format!("it has: {}", names.join(", "))
                    },
                })?;
            let bytes =
                variable
                    .encode(value, big_endian)
                    .map_err(|reason| LoadError::InvalidGlobal {
                        name: name.clone(),
                        value: value.clone(),
                        reason,
                    })?;
            Ok(GlobalValue {
                variable: variable.clone(),
                bytes,
            })
        })
        .collect()
}

/// Whether libbpf's map `map_name` is the one it made of global-data section `section`:
/// `OBJNAME.rodata` (object name cut to fit 15 bytes) for the standard sections, the
/// section's own name (cut to 15 bytes) for custom ones like `.data.config`.
fn is_section_map(map_name: &str, section: &str) -> bool {
    let custom = section[1..].contains('.');
    if custom {
        let cut = &section[..section.len().min(15)];
        map_name == cut
    } else {
        map_name
            .strip_suffix(section)
            .is_some_and(|prefix| !prefix.contains('.'))
    }
}

/// What [`apply`] changed, for the report.
#[derive(Debug, Default)]
pub(crate) struct Applied {
    /// Human notes ("map 'stacks': value size set to 1016 bytes (127 frames)").
    pub notes: Vec<String>,
}

/// Writes the globals into the internal maps' initial values, sets `--map-max-entries`, gives
/// stack-trace maps declared without a value size the default depth, and refuses maps left
/// at size 0 for user space to set.
pub(crate) fn apply(
    open: &mut OpenObject,
    globals: &[GlobalValue],
    max_entries: &[(String, u32)],
) -> Result<Applied, LoadError> {
    let mut applied = Applied::default();
    for global in globals {
        let variable = &global.variable;
        let mut written = false;
        for mut map in open.maps_mut() {
            let name = map.name().to_string_lossy().into_owned();
            if !is_section_map(&name, &variable.section) {
                continue;
            }
            if let Some(data) = map.initial_value_mut() {
                let start = usize::try_from(variable.offset).unwrap_or(usize::MAX);
                if let Some(slot) = start
                    .checked_add(global.bytes.len())
                    .and_then(|end| data.get_mut(start..end))
                {
                    slot.copy_from_slice(&global.bytes);
                    written = true;
                }
            }
        }
        if !written {
            return Err(LoadError::InvalidGlobal {
                name: variable.name.clone(),
                value: String::new(),
                reason: format!(
                    "libbpf made no map of section {} to hold it",
                    variable.section
                ),
            });
        }
    }

    for (wanted, entries) in max_entries {
        let names = open_map_names(open);
        if !names.contains(wanted) {
            return Err(LoadError::UnknownMap {
                option: "--map-max-entries",
                name: wanted.clone(),
                available: names
                    .into_iter()
                    .filter(|n| !n.contains('.'))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        for mut map in open.maps_mut() {
            if map.name().to_string_lossy() == wanted.as_str() {
                map.set_max_entries(*entries).map_err(|e| LoadError::Open {
                    reason: format!(
                        "setting max_entries of map '{wanted}' to {entries}: {}",
                        capture::describe(&e)
                    ),
                })?;
            }
        }
    }

    for mut map in open.maps_mut() {
        let name = map.name().to_string_lossy().into_owned();
        let map_type = map.map_type();
        if map_type == MapType::StackTrace && map.value_size() == 0 {
            let size = DEFAULT_STACK_DEPTH * 8;
            map.set_value_size(size).map_err(|e| LoadError::Open {
                reason: format!(
                    "setting the value size of stack map '{name}': {}",
                    capture::describe(&e)
                ),
            })?;
            applied.notes.push(format!(
                "map '{name}': value size set to {size} bytes ({DEFAULT_STACK_DEPTH} frames), \
                 as its user space would"
            ));
        }
        // A perf event array of size 0 gets one slot per CPU from libbpf; other maps of
        // size 0 are left for user space to size, and the kernel would refuse them.
        if map.max_entries() == 0 && map_type != MapType::PerfEventArray && map.autocreate() {
            return Err(LoadError::MapNeedsSize {
                map: name,
                map_type: super::display::map_type_name(map_type),
            });
        }
    }
    Ok(applied)
}

fn open_map_names(open: &OpenObject) -> Vec<String> {
    open.maps()
        .map(|m| m.name().to_string_lossy().into_owned())
        .collect()
}

/// A private bpffs folder where libbpf pins the object's pinned-by-name maps during
/// load, instead of `/sys/fs/bpf/NAME`: so that nothing pinned there by someone else is
/// reused and nothing is left there. The pins are removed right after load
/// ([`ScratchPins::release`]) and, whatever happens, when this is dropped.
pub(crate) struct ScratchPins {
    dir: PathBuf,
    /// (map, pin path) of every redirected map.
    maps: Vec<(String, PathBuf)>,
}

impl ScratchPins {
    /// Redirects the pinned-by-name maps of `info` on `open` into a new scratch folder.
    /// `None` when the object has none.
    pub(crate) fn redirect(
        open: &mut OpenObject,
        info: &ObjectInfo,
    ) -> Result<Option<ScratchPins>, LoadError> {
        let by_name: Vec<&str> = info
            .maps
            .iter()
            .filter(|m| m.pinned_by_name)
            .map(|m| m.name.as_str())
            .collect();
        if by_name.is_empty() {
            return Ok(None);
        }
        let dir = Path::new(BPFFS_ROOT).join(format!(
            "ebpf_layout_loading_{}_{}",
            std::process::id(),
            SCRATCH_COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        fs::create_dir(&dir).map_err(|e| {
            LoadError::io(
                format!(
                    "creating {} for the maps pinned by name ({}); is bpffs mounted at \
                     {BPFFS_ROOT}?",
                    dir.display(),
                    by_name.join(", ")
                ),
                e,
            )
        })?;
        let mut scratch = ScratchPins {
            dir,
            maps: Vec::new(),
        };
        for mut map in open.maps_mut() {
            let name = map.name().to_string_lossy().into_owned();
            if !by_name.contains(&name.as_str()) {
                continue;
            }
            let path = scratch.dir.join(&name);
            map.set_pin_path(&path).map_err(|e| LoadError::Open {
                reason: format!(
                    "redirecting the pin of map '{name}': {}",
                    capture::describe(&e)
                ),
            })?;
            scratch.maps.push((name, path));
        }
        Ok(Some(scratch))
    }

    /// The redirected maps' names.
    pub(crate) fn names(&self) -> Vec<String> {
        self.maps.iter().map(|(n, _)| n.clone()).collect()
    }

    /// Unpins the maps libbpf pinned during load (they live on through the object's fds)
    /// and removes the folder.
    pub(crate) fn release(self, obj: &mut Object) {
        for (name, path) in &self.maps {
            if let Some(mut map) = obj
                .maps_mut()
                .find(|m| m.name().to_string_lossy() == name.as_str())
            {
                let _ = map.unpin(path);
            }
        }
        // Drop removes whatever is left, and the folder.
    }
}

impl Drop for ScratchPins {
    fn drop(&mut self) {
        for (_, path) in &self.maps {
            let _ = fs::remove_file(path);
        }
        let _ = fs::remove_dir(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_maps_are_matched_to_their_sections() {
        assert!(is_section_map("configur.rodata", ".rodata"));
        assert!(is_section_map("tp.bss", ".bss"));
        assert!(!is_section_map("tp.rodata", ".bss"));
        assert!(!is_section_map(".rodata.str1.1", ".rodata"));
        assert!(is_section_map(".data.config", ".data.config"));
        assert!(is_section_map(".data.a_very_lo", ".data.a_very_long_name"));
        assert!(!is_section_map("a.b.rodata", ".rodata"));
    }
}
