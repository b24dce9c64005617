//! `watch DIR`: `load`'s live map display, for a deployment that runs detached.
//!
//! The maps are opened from their pins (as listed by each image's pin manifest) and decoded
//! through the BTF the kernel keeps for the deployment's programs (the object's own BTF,
//! `.maps` section included), so counters, gauges, histograms and event records look exactly
//! as they did under `load`. The output is `load`'s too (see [`super`] for the JSON lines):
//! the first line describes what is pinned (`"event":"loaded"`, `"detached":true`), then
//! snapshots and records, then `"stopped"`. Watching changes nothing in the kernel, except
//! that records read from a ring or perf buffer are consumed (as `load` consumes them).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use libbpf_rs::{Btf, MapCore as _, MapHandle};

use super::btf_decode::{self, Layout};
use super::deploy::{self, pinned_program_id};
use super::display::{self, DisplayKind, MapView, Renderer, StopReason};
use super::errors::LoadError;
use super::interrupt::Interrupt;
use super::metrics::{Exported, MetricsServer};
use super::pin::{self, PinKind};
use super::{capture, LoadReport, MapReport, OutputMode, ProgramReport};

/// What [`watch`] should do.
#[derive(Debug, Clone, Default)]
pub struct WatchOptions {
    /// Stop after this long (default: until Ctrl-C or SIGTERM).
    pub duration: Option<Duration>,
    /// How to show the maps.
    pub output: OutputMode,
    /// Serve the maps as Prometheus metrics at `http://ADDR/metrics` while watching.
    pub metrics: Option<std::net::SocketAddr>,
    /// The caller removes the deployment when the display stops (a bundle loaded without
    /// `--pin`): the last line then says the programs are detached, not that they stay.
    pub transient: bool,
}

/// The maps of a deployment, opened from their pins.
pub(crate) struct PinnedMaps {
    /// What is pinned, as `load` would report it.
    pub report: LoadReport,
    /// The maps, in the order of `views`.
    pub maps: Vec<MapHandle>,
    /// How each map is shown.
    pub views: Vec<MapView>,
    /// For each map, the image it belongs to.
    pub images: Vec<String>,
}

/// Shows the pinned maps of the deployment in `dir` (a pin folder, or a bundle's folder:
/// then every image's maps, named `IMAGE/MAP`) on `out` until Ctrl-C/SIGTERM or
/// `options.duration`. Fails like [`super::unload`] on a folder `load` did not make, and
/// with [`LoadError::MapRead`] for a pinned map that cannot be opened.
pub fn watch(dir: &Path, options: &WatchOptions, out: &mut dyn Write) -> Result<(), LoadError> {
    let metrics = options.metrics.map(MetricsServer::bind).transpose()?;
    let pinned = open_pinned(dir)?;
    let interrupt = Interrupt::catch()?;
    let mut renderer = Renderer::new(out, options.output);
    renderer.stops_after(options.duration);
    if let Some(server) = &metrics {
        server.publish(exported(&pinned)?);
        renderer.count_records_in(server.record_counts());
    }
    renderer.loaded(&pinned.report)?;
    let reason = display::watch(
        &pinned.maps,
        &pinned.views,
        &mut renderer,
        &interrupt,
        options.duration,
    )?;
    renderer.stopped(
        match reason {
            StopReason::Duration => "duration",
            StopReason::Interrupted => "interrupted",
        },
        (!options.transient).then_some(dir),
    )
}

/// Opens every map pinned by the deployment in `dir`.
pub(crate) fn open_pinned(dir: &Path) -> Result<PinnedMaps, LoadError> {
    let _log = capture::LogCapture::start();
    std::fs::metadata(dir)
        .map_err(|e| LoadError::io(format!("opening pin folder {}", dir.display()), e))?;
    let record = deploy::read_record(dir)?;
    let image_dirs: Vec<(Option<deploy::ImageRecord>, PathBuf)> = match &record {
        Some(r) if r.images.iter().any(|i| !i.pin_dir.as_os_str().is_empty()) => r
            .images
            .iter()
            .map(|i| (Some(i.clone()), dir.join(&i.pin_dir)))
            .collect(),
        Some(r) => vec![(r.images.first().cloned(), dir.to_owned())],
        None => vec![(None, dir.to_owned())],
    };
    let bundle = image_dirs.len() > 1;
    let mut pinned = PinnedMaps {
        report: LoadReport {
            object: String::new(),
            programs: Vec::new(),
            maps: Vec::new(),
            pin_dir: Some(dir.to_owned()),
            pinned: Vec::new(),
            detached: true,
            fixed_maps: Vec::new(),
            globals_set: Vec::new(),
            warnings: Vec::new(),
        },
        maps: Vec::new(),
        views: Vec::new(),
        images: Vec::new(),
    };
    let mut names = Vec::new();
    for (image, image_dir) in image_dirs {
        let manifest = pin::read_manifest(&image_dir)?;
        let image_name = image
            .as_ref()
            .map_or_else(|| manifest.object.clone(), |i| i.name.clone());
        let prefix = if bundle {
            format!("{image_name}/")
        } else {
            String::new()
        };
        names.push(image_name.clone());
        let program_ids: Vec<(String, Option<u32>)> = manifest
            .pins
            .iter()
            .filter(|p| p.kind == PinKind::Program)
            .map(|p| (p.name.clone(), pinned_program_id(&image_dir.join(&p.path))))
            .collect();
        // The object's BTF, as the kernel keeps it for any of its programs.
        let btf = program_ids
            .iter()
            .filter_map(|(_, id)| *id)
            .find_map(|id| Btf::from_prog_id(id).ok());
        for (name, id) in &program_ids {
            let recorded = image
                .as_ref()
                .and_then(|i| i.programs.iter().find(|p| &p.name == name));
            pinned.report.programs.push(ProgramReport {
                name: format!("{prefix}{name}"),
                section: String::new(),
                prog_type: recorded.map(|p| p.prog_type.clone()).unwrap_or_default(),
                id: id.unwrap_or(0),
                attached_to: recorded.map(|p| p.attached_to.clone()).unwrap_or_default(),
            });
        }
        for entry in manifest.pins.iter().filter(|p| p.kind == PinKind::Map) {
            let path = image_dir.join(&entry.path);
            let map = MapHandle::from_pinned_path(&path).map_err(|e| LoadError::MapRead {
                map: format!("{prefix}{}", entry.name),
                reason: format!("opening {}: {}", path.display(), capture::describe(&e)),
            })?;
            let mut view = view_of(&entry.name, &map, btf.as_ref());
            view.name = format!("{prefix}{}", entry.name);
            pinned.report.maps.push(MapReport {
                name: view.name.clone(),
                map_type: view.type_name.clone(),
                id: map.info().map(|i| i.info.id).unwrap_or(0),
                key_size: map.key_size(),
                value_size: map.value_size(),
                max_entries: map.max_entries(),
                display: view.kind,
            });
            pinned.report.pinned.push(path);
            pinned.views.push(view);
            pinned.maps.push(map);
            pinned.images.push(image_name.clone());
        }
    }
    pinned.report.object = names.join(", ");
    Ok(pinned)
}

/// The pinned maps, to serve as metrics (each under its image's name).
fn exported(pinned: &PinnedMaps) -> Result<Vec<Exported>, LoadError> {
    pinned
        .maps
        .iter()
        .zip(&pinned.views)
        .zip(&pinned.images)
        .map(|((map, view), image)| {
            let own_name = view
                .name
                .strip_prefix(&format!("{image}/"))
                .unwrap_or(&view.name);
            Ok(Exported {
                image: image.clone(),
                map: own_name.to_owned(),
                handle: MapHandle::try_from(map).map_err(|e| LoadError::MapRead {
                    map: view.name.clone(),
                    reason: capture::describe(&e),
                })?,
                view: view.clone(),
            })
        })
        .collect()
}

/// How a pinned map is shown: by bee's conventions on its (full) name, decoded through the
/// object's BTF when there is one.
fn view_of(name: &str, map: &MapHandle, btf: Option<&Btf<'_>>) -> MapView {
    let map_type = map.map_type();
    let (key, value) = btf
        .map(|btf| btf_decode::map_types(btf, name))
        .unwrap_or((None, None));
    let kind = DisplayKind::of(name, map_type);
    let value = value.unwrap_or_else(|| match kind {
        DisplayKind::Print => Layout::Opaque { size: usize::MAX },
        _ => Layout::guess(map.value_size() as usize),
    });
    MapView {
        key: key.unwrap_or_else(|| Layout::guess(map.key_size() as usize)),
        value,
        type_name: display::map_type_name(map_type),
        kind,
        map_type,
        name: name.to_owned(),
    }
}
