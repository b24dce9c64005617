//! Showing maps while the programs run, following bumblebee's naming conventions.
//!
//! | map name   | map types                         | shown as                                  |
//! |------------|-----------------------------------|-------------------------------------------|
//! | `print_*`  | ring buffer, perf event array     | every record, decoded, as it arrives      |
//! | `counter_*`| array, hash (and per-CPU: summed) | all entries, each interval                |
//! | `gauge_*`  | array, hash (and per-CPU)         | current values, each interval             |
//! | `hist_*`   | array, hash (and per-CPU)         | key → count, sorted by key, each interval |
//! | other      | any                               | listed once (name, type, id)              |
//!
//! Three renderings ([`OutputMode`]): a table redrawn in place (ANSI; bold only when
//! `NO_COLOR` is unset), plain text lines, or one JSON object per line (schema in
//! [`super`]'s documentation).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::Write;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::report::{escape_control, escape_json_controls};
use libbpf_rs::{MapCore, MapFlags, MapType, PerfBufferBuilder, RingBufferBuilder};
use serde::Serialize;

use super::btf_decode::{self, Decoded, Layout};
use super::errors::LoadError;
use super::interrupt::Interrupt;
use super::{LoadReport, OutputMode};

/// How often counters, gauges and histograms are read and shown.
pub(crate) const REFRESH_INTERVAL: Duration = Duration::from_secs(1);
/// How long one poll of the event buffers waits: short enough to notice Ctrl-C quickly.
const POLL_SLICE: Duration = Duration::from_millis(100);
/// At most this many entries are read from one map per snapshot (a 1M-entry array would
/// otherwise make every snapshot megabytes long).
const MAX_ENTRIES_SHOWN: usize = 1024;
/// In table mode, each event map shows its latest records, at most this many.
const TABLE_RECENT_RECORDS: usize = 10;
/// Width of a histogram bar in table mode.
const HIST_BAR_WIDTH: usize = 30;
/// In table mode, new records redraw the table at most this often.
const TABLE_MIN_REDRAW: Duration = Duration::from_millis(250);
/// Marks a table line as a heading. A NUL never survives [`for_terminal`], so no line
/// from the input can pass for one.
const HEADING: char = '\0';

/// Escapes control characters (ESC, CR, …) of text that came from the object or the kernel.
pub(crate) fn for_terminal(text: &str) -> String {
    escape_control(text).into_owned()
}

/// perf buffer size per CPU, in pages (a power of two).
const PERF_BUFFER_PAGES: usize = 64;

/// How a map is shown, from its name prefix and type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DisplayKind {
    /// `print_*` ring buffer or perf event array: each record.
    Print,
    /// `counter_*`: all entries.
    Counter,
    /// `gauge_*`: current values.
    Gauge,
    /// `hist_*`: key → count.
    Hist,
    /// Any other map asked for (`--map`, or every map in JSON output): all entries.
    Entries,
    /// Anything else: listed, not read.
    Other,
}

impl DisplayKind {
    /// How a map is shown: by bee's naming convention, else, if `asked` (named with
    /// `--map`, or JSON output), its records or entries when its type can be read.
    /// `.rodata` and `.kconfig` maps (constants) are never read.
    pub(crate) fn for_map(name: &str, map_type: MapType, asked: bool) -> DisplayKind {
        let bee = DisplayKind::of(name, map_type);
        if bee != DisplayKind::Other || !asked {
            return bee;
        }
        let constant = name.contains(".rodata") || name.ends_with(".kconfig");
        match map_type {
            _ if constant => DisplayKind::Other,
            MapType::RingBuf | MapType::PerfEventArray => DisplayKind::Print,
            MapType::Array
            | MapType::Hash
            | MapType::LruHash
            | MapType::PercpuArray
            | MapType::PercpuHash
            | MapType::LruPercpuHash
            | MapType::StackTrace
            | MapType::LpmTrie => DisplayKind::Entries,
            _ => DisplayKind::Other,
        }
    }

    /// Classifies a map by bee's naming convention, checking that its type fits.
    pub(crate) fn of(name: &str, map_type: MapType) -> DisplayKind {
        let readable = matches!(
            map_type,
            MapType::Array
                | MapType::Hash
                | MapType::LruHash
                | MapType::PercpuArray
                | MapType::PercpuHash
                | MapType::LruPercpuHash
        );
        if name.starts_with("print_")
            && matches!(map_type, MapType::RingBuf | MapType::PerfEventArray)
        {
            DisplayKind::Print
        } else if name.starts_with("counter_") && readable {
            DisplayKind::Counter
        } else if name.starts_with("gauge_") && readable {
            DisplayKind::Gauge
        } else if name.starts_with("hist_") && readable {
            DisplayKind::Hist
        } else {
            DisplayKind::Other
        }
    }
}

/// A map prepared for display: its kind and decoded layouts.
#[derive(Debug, Clone)]
pub(crate) struct MapView {
    /// The map's name.
    pub name: String,
    /// The map's type.
    pub map_type: MapType,
    /// The kernel type name ("array", "ringbuf", …).
    pub type_name: String,
    /// How it is shown.
    pub kind: DisplayKind,
    /// The key's layout.
    pub key: Layout,
    /// The value's (or, for event maps, the record's) layout.
    pub value: Layout,
}

/// The kernel's name for a map type ("array", "ringbuf", "percpu_hash", …).
pub(crate) fn map_type_name(map_type: MapType) -> String {
    match map_type {
        MapType::RingBuf => "ringbuf".into(),
        MapType::UserRingBuf => "user_ringbuf".into(),
        other => snake_case(&format!("{other:?}")),
    }
}

/// The kernel's name for a program type ("tracepoint", "xdp", "sched_cls", …).
pub(crate) fn program_type_name(prog_type: libbpf_rs::ProgramType) -> String {
    snake_case(&format!("{prog_type:?}"))
}

fn snake_case(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// One map's entries at one moment.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    /// The map.
    pub map: String,
    /// Its kernel type name.
    pub type_name: String,
    /// Its display kind.
    pub kind: DisplayKind,
    /// (key, value) pairs, decoded.
    pub entries: Vec<(Decoded, Decoded)>,
    /// Whether entries were left out (more than [`MAX_ENTRIES_SHOWN`]).
    pub truncated: bool,
}

/// Reads the entries of a counter/gauge/hist map.
pub(crate) fn snapshot(map: &dyn MapCore, view: &MapView) -> Result<Snapshot, LoadError> {
    let read_error = |e: libbpf_rs::Error| LoadError::MapRead {
        map: view.name.clone(),
        reason: super::capture::describe(&e),
    };
    let per_cpu = matches!(
        view.map_type,
        MapType::PercpuArray | MapType::PercpuHash | MapType::LruPercpuHash
    );
    let mut entries = Vec::new();
    let mut truncated = false;
    for key in map.keys() {
        if entries.len() == MAX_ENTRIES_SHOWN {
            truncated = true;
            break;
        }
        let value = if per_cpu {
            match map.lookup_percpu(&key, MapFlags::ANY).map_err(read_error)? {
                Some(values) => {
                    btf_decode::sum_integers(&view.value, &values).unwrap_or_else(|| {
                        Decoded::List(
                            values
                                .iter()
                                .map(|v| btf_decode::decode(&view.value, v))
                                .collect(),
                        )
                    })
                }
                None => continue, // deleted meanwhile
            }
        } else {
            match map.lookup(&key, MapFlags::ANY).map_err(read_error)? {
                Some(value) => btf_decode::decode(&view.value, &value),
                None => continue,
            }
        };
        entries.push((btf_decode::decode(&view.key, &key), value));
    }
    if view.kind == DisplayKind::Hist {
        entries.sort_by(|a, b| compare_values(&a.0, &b.0));
    }
    Ok(Snapshot {
        map: view.name.clone(),
        type_name: view.type_name.clone(),
        kind: view.kind,
        entries,
        truncated,
    })
}

fn compare_values(a: &Decoded, b: &Decoded) -> std::cmp::Ordering {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
        _ => format_value(a).cmp(&format_value(b)),
    }
}

/// Formats a decoded value for text and table output: `pid=1 comm=bash` for a struct at top
/// level, `{…}` when nested, `[a, b]` for arrays, strings quoted only when they need it.
pub(crate) fn format_value(value: &Decoded) -> String {
    match value {
        Decoded::Fields(fields) => fields
            .iter()
            .map(|(k, v)| format!("{k}={}", format_nested(v)))
            .collect::<Vec<_>>()
            .join(" "),
        other => format_nested(other),
    }
}

fn format_nested(value: &Decoded) -> String {
    match value {
        Decoded::Null => "-".into(),
        Decoded::Bool(b) => b.to_string(),
        Decoded::Int(v) => v.to_string(),
        Decoded::Float(f) => f.to_string(),
        Decoded::Str(s)
            if s.is_empty()
                || s.chars()
                    .any(|c| c.is_whitespace() || c == '"' || c.is_control()) =>
        {
            format!("{s:?}")
        }
        Decoded::Str(s) => s.clone(),
        Decoded::List(items) => format!(
            "[{}]",
            items
                .iter()
                .map(format_nested)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Decoded::Fields(_) => format!("{{{}}}", format_value(value)),
    }
}

/// JSON line: a snapshot of a counter/gauge/hist map.
#[derive(Serialize)]
struct SnapshotLine<'a> {
    event: &'static str,
    map: &'a str,
    #[serde(rename = "type")]
    map_type: &'a str,
    kind: DisplayKind,
    entries: Vec<EntryLine<'a>>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    truncated: bool,
}

/// JSON: one entry of a snapshot.
#[derive(Serialize)]
struct EntryLine<'a> {
    key: &'a Decoded,
    value: &'a Decoded,
}

/// JSON line: a record of an event map.
#[derive(Serialize)]
struct RecordLine<'a> {
    event: &'static str,
    map: &'a str,
    #[serde(rename = "type")]
    map_type: &'a str,
    record: &'a Decoded,
}

/// JSON line: records lost by a perf buffer.
#[derive(Serialize)]
struct LostLine<'a> {
    event: &'static str,
    map: &'a str,
    #[serde(rename = "type")]
    map_type: &'a str,
    cpu: i32,
    count: u64,
}

/// JSON line: the first one, what was loaded.
#[derive(Serialize)]
struct LoadedLine<'a> {
    event: &'static str,
    #[serde(flatten)]
    report: &'a LoadReport,
}

/// JSON line: the last one.
#[derive(Serialize)]
struct StoppedLine<'a> {
    event: &'static str,
    reason: &'a str,
}

/// Table mode: the latest records of one event map.
struct RecentRecords {
    map: String,
    records: VecDeque<String>,
    received: u64,
    lost: u64,
}

/// Writes the display in the chosen mode.
pub(crate) struct Renderer<'w> {
    out: &'w mut dyn Write,
    mode: OutputMode,
    bold: bool,
    started: Instant,
    /// Table mode: the header lines (programs and maps).
    header: Vec<String>,
    /// Table mode: latest records per event map.
    recent: Vec<RecentRecords>,
    /// Table mode: the latest snapshots.
    latest: Vec<Snapshot>,
    /// Table mode: how many lines the last drawing took (to redraw over it).
    drawn_lines: usize,
    /// Table mode: when the table was last drawn, and whether records arrived since.
    last_draw: Instant,
    dirty: bool,
    /// `--metrics`: where event records are counted (metrics.rs).
    record_counts: Option<std::sync::Arc<super::metrics::RecordCounts>>,
    /// `--duration`: the display stops by itself (so "Ctrl-C to stop" is not said).
    stops_after: Option<Duration>,
}

impl<'w> Renderer<'w> {
    /// A renderer writing to `out`. Bold text in table mode unless `NO_COLOR` is set.
    pub(crate) fn new(out: &'w mut dyn Write, mode: OutputMode) -> Self {
        let bold = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        Renderer {
            out,
            mode,
            bold,
            started: Instant::now(),
            header: Vec::new(),
            recent: Vec::new(),
            latest: Vec::new(),
            drawn_lines: 0,
            last_draw: Instant::now(),
            dirty: false,
            record_counts: None,
            stops_after: None,
        }
    }

    /// The display stops by itself after `duration` (`--duration`), if given.
    pub(crate) fn stops_after(&mut self, duration: Option<Duration>) {
        self.stops_after = duration;
    }

    /// Counts every event record (and loss) in `counts` too, for `--metrics`.
    pub(crate) fn count_records_in(
        &mut self,
        counts: std::sync::Arc<super::metrics::RecordCounts>,
    ) {
        self.record_counts = Some(counts);
    }

    /// Table mode: redraws if records arrived and the last drawing is old enough.
    pub(crate) fn refresh_if_due(&mut self) -> Result<(), LoadError> {
        if self.mode == OutputMode::Table
            && self.dirty
            && self.last_draw.elapsed() >= TABLE_MIN_REDRAW
        {
            self.draw_table()?;
        }
        Ok(())
    }

    /// Marks a table heading; [`Renderer::draw_table`] makes it bold (after escaping it).
    fn emphasize(&self, text: &str) -> String {
        format!("{HEADING}{text}")
    }

    fn json_line(&mut self, value: &impl Serialize) -> Result<(), LoadError> {
        let text = serde_json::to_string(value).map_err(|e| LoadError::Output(e.into()))?;
        let text = escape_json_controls(&text);
        self.out
            .write_all(text.as_bytes())
            .map_err(LoadError::Output)?;
        self.out.write_all(b"\n").map_err(LoadError::Output)?;
        self.out.flush().map_err(LoadError::Output)
    }

    /// Writes one line of text output, escaped: it holds names and values from the object.
    fn text_line(&mut self, line: &str) -> Result<(), LoadError> {
        writeln!(self.out, "{}", for_terminal(line)).map_err(LoadError::Output)?;
        self.out.flush().map_err(LoadError::Output)
    }

    /// What was loaded, attached and pinned.
    pub(crate) fn loaded(&mut self, report: &LoadReport) -> Result<(), LoadError> {
        if self.mode == OutputMode::Json {
            return self.json_line(&LoadedLine {
                event: "loaded",
                report,
            });
        }
        let mut lines = vec![format!(
            "loaded {}: {} program(s), {} map(s){}",
            report.object,
            report.programs.len(),
            report.maps.len(),
            if report.detached {
                String::new()
            } else if let Some(d) = self.stops_after {
                format!(" (for {:.1}s)", d.as_secs_f64())
            } else {
                " (Ctrl-C to stop)".to_owned()
            }
        )];
        for p in &report.programs {
            let to = if p.attached_to.is_empty() {
                "not attached".to_owned()
            } else {
                format!("attached to {}", p.attached_to.join(", "))
            };
            lines.push(format!(
                "  program {} ({}, id {}): {to}",
                p.name, p.prog_type, p.id
            ));
        }
        for m in &report.maps {
            lines.push(format!(
                "  map {} ({}, id {}): {}",
                m.name,
                m.map_type,
                m.id,
                m.display_note()
            ));
        }
        for p in &report.pinned {
            lines.push(format!("  pinned {}", p.display()));
        }
        match self.mode {
            OutputMode::Table => {
                self.header = lines
                    .iter()
                    .map(|l| escape_control(l).into_owned())
                    .collect();
                self.draw_table()
            }
            _ => {
                for line in lines {
                    self.text_line(&line)?;
                }
                Ok(())
            }
        }
    }

    /// One record from an event map.
    pub(crate) fn record(&mut self, view: &MapView, record: &Decoded) -> Result<(), LoadError> {
        if let Some(counts) = &self.record_counts {
            counts.record(&view.name);
        }
        match self.mode {
            OutputMode::Json => self.json_line(&RecordLine {
                event: "record",
                map: &view.name,
                map_type: &view.type_name,
                record,
            }),
            OutputMode::Text => {
                let line = format!("{}: {}", view.name, format_value(record));
                self.text_line(&line)
            }
            OutputMode::Table => {
                let recent = self.recent_of(&view.name);
                recent.records.push_back(format_value(record));
                recent.received += 1;
                if recent.records.len() > TABLE_RECENT_RECORDS {
                    recent.records.pop_front();
                }
                self.dirty = true;
                Ok(())
            }
        }
    }

    fn recent_of(&mut self, map: &str) -> &mut RecentRecords {
        let index = match self.recent.iter().position(|r| r.map == map) {
            Some(index) => index,
            None => {
                self.recent.push(RecentRecords {
                    map: map.to_owned(),
                    records: VecDeque::new(),
                    received: 0,
                    lost: 0,
                });
                self.recent.len() - 1
            }
        };
        &mut self.recent[index]
    }

    /// Records a perf buffer lost.
    pub(crate) fn lost(&mut self, view: &MapView, cpu: i32, count: u64) -> Result<(), LoadError> {
        if let Some(counts) = &self.record_counts {
            counts.lost(&view.name, count);
        }
        match self.mode {
            OutputMode::Json => self.json_line(&LostLine {
                event: "lost",
                map: &view.name,
                map_type: &view.type_name,
                cpu,
                count,
            }),
            OutputMode::Text => {
                let line = format!("{}: lost {count} record(s) on CPU {cpu}", view.name);
                self.text_line(&line)
            }
            OutputMode::Table => {
                self.recent_of(&view.name).lost += count;
                self.dirty = true;
                Ok(())
            }
        }
    }

    /// The periodic (and final) snapshots of counter/gauge/hist maps.
    pub(crate) fn snapshots(&mut self, snapshots: Vec<Snapshot>) -> Result<(), LoadError> {
        match self.mode {
            OutputMode::Json => {
                for s in &snapshots {
                    self.json_line(&SnapshotLine {
                        event: "snapshot",
                        map: &s.map,
                        map_type: &s.type_name,
                        kind: s.kind,
                        entries: s
                            .entries
                            .iter()
                            .map(|(key, value)| EntryLine { key, value })
                            .collect(),
                        truncated: s.truncated,
                    })?;
                }
                Ok(())
            }
            OutputMode::Text => {
                let elapsed = self.started.elapsed().as_secs_f64();
                for s in &snapshots {
                    if s.entries.is_empty() {
                        self.text_line(&format!(
                            "[{elapsed:.1}s] {} ({}): empty",
                            s.map,
                            s.kind_name()
                        ))?;
                    }
                    for (k, v) in &s.entries {
                        let line = format!(
                            "[{elapsed:.1}s] {}[{}] = {}",
                            s.map,
                            format_nested(k),
                            format_value(v)
                        );
                        self.text_line(&line)?;
                    }
                    if s.truncated {
                        self.text_line(&format!("[{elapsed:.1}s] {}: (only the first {MAX_ENTRIES_SHOWN} entries shown)", s.map))?;
                    }
                }
                Ok(())
            }
            OutputMode::Table => {
                self.latest = snapshots;
                self.draw_table()
            }
        }
    }

    /// Redraws the table over the previous drawing.
    fn draw_table(&mut self) -> Result<(), LoadError> {
        let mut lines: Vec<String> = self.header.clone();
        for s in &self.latest {
            lines.push(String::new());
            lines.push(self.emphasize(&format!("{} ({}, {})", s.map, s.type_name, s.kind_name())));
            if s.entries.is_empty() {
                lines.push("  (empty)".into());
                continue;
            }
            let keys: Vec<String> = s.entries.iter().map(|(k, _)| format_nested(k)).collect();
            let width = keys
                .iter()
                .map(|k| k.chars().count())
                .max()
                .unwrap_or(3)
                .max(3);
            lines.push(format!("  {:<width$}  VALUE", "KEY"));
            let max = s
                .entries
                .iter()
                .filter_map(|(_, v)| v.as_f64())
                .fold(0.0_f64, f64::max);
            for ((_, v), k) in s.entries.iter().zip(&keys) {
                let mut line = format!("  {k:<width$}  {}", format_value(v));
                if s.kind == DisplayKind::Hist && max > 0.0 {
                    if let Some(x) = v.as_f64() {
                        let bar = ((x / max) * HIST_BAR_WIDTH as f64).round() as usize;
                        line = format!(
                            "  {k:<width$}  {:<HIST_BAR_WIDTH$} {}",
                            "#".repeat(bar),
                            format_value(v)
                        );
                    }
                }
                lines.push(escape_control(&line).into_owned());
            }
            if s.truncated {
                lines.push(format!(
                    "  … only the first {MAX_ENTRIES_SHOWN} entries are shown"
                ));
            }
        }
        for recent in &self.recent {
            let lost = if recent.lost > 0 {
                format!(", {} lost", recent.lost)
            } else {
                String::new()
            };
            lines.push(String::new());
            lines.push(self.emphasize(&format!(
                "{}: {} record(s){lost}, latest last",
                recent.map, recent.received
            )));
            for record in &recent.records {
                lines.push(format!("  {}", escape_control(record)));
            }
        }
        let columns = terminal_columns();
        let mut screen = String::new();
        if self.drawn_lines > 0 {
            // Back to the first line of the previous drawing, and clear from there down.
            screen.push_str(&format!("\x1b[{}F\x1b[J", self.drawn_lines));
        }
        let mut rows = 0;
        for line in &lines {
            // Names, records and values come from the object and the kernel: escaped, so
            // that they cannot move the cursor or change colours. Our headings are made
            // bold after escaping.
            let shown = for_terminal(line.strip_prefix(HEADING).unwrap_or(line));
            rows += terminal_rows(&shown, columns);
            match line.strip_prefix(HEADING) {
                Some(_) if self.bold => screen.push_str(&format!("\x1b[1m{shown}\x1b[0m")),
                _ => screen.push_str(&shown),
            }
            screen.push_str("\x1b[K\n");
        }
        // A line wider than the terminal wraps onto several rows: the next redraw goes back
        // over all of them, so no frame is left behind in the scrollback.
        self.drawn_lines = rows;
        self.last_draw = Instant::now();
        self.dirty = false;
        self.out
            .write_all(screen.as_bytes())
            .map_err(LoadError::Output)?;
        self.out.flush().map_err(LoadError::Output)
    }

    /// The display ends (`reason`: "duration", "interrupted" or "detached"). `pin_dir` is
    /// where the programs stay pinned (and so attached), if they were pinned.
    pub(crate) fn stopped(
        &mut self,
        reason: &str,
        pin_dir: Option<&std::path::Path>,
    ) -> Result<(), LoadError> {
        if self.mode == OutputMode::Json {
            return self.json_line(&StoppedLine {
                event: "stopped",
                reason,
            });
        }
        let why = match reason {
            "detached" => "detached",
            "interrupted" => "interrupted",
            _ => "time is up",
        };
        let line = match pin_dir {
            Some(dir) => format!(
                "{why}: the programs stay attached, pinned under {dir}; `ebpf-layout unload {dir}` removes them",
                dir = dir.display()
            ),
            None => format!("{why}: detaching"),
        };
        self.text_line(&line)
    }
}

impl Snapshot {
    fn kind_name(&self) -> &'static str {
        match self.kind {
            DisplayKind::Print => "print",
            DisplayKind::Counter => "counter",
            DisplayKind::Gauge => "gauge",
            DisplayKind::Hist => "hist",
            DisplayKind::Entries => "entries",
            DisplayKind::Other => "other",
        }
    }
}

/// Why the display stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopReason {
    /// `--duration` elapsed.
    Duration,
    /// Ctrl-C or SIGTERM.
    Interrupted,
}

/// Shows the maps until `duration` elapses or a stop signal arrives, then shows the final
/// snapshot. Event maps are polled continuously; the others are read every
/// [`REFRESH_INTERVAL`].
pub(crate) fn watch<M: MapCore>(
    maps: &[M],
    views: &[MapView],
    renderer: &mut Renderer<'_>,
    interrupt: &Interrupt,
    duration: Option<Duration>,
) -> Result<StopReason, LoadError> {
    let started = Instant::now();
    let deadline = duration.map(|d| started + d);

    // Records are queued by the libbpf callbacks and rendered by this loop, which owns the
    // writer. (index into views, record bytes) or (index, cpu, lost count).
    let queue: Rc<RefCell<Vec<Event>>> = Rc::default();

    let mut ring_builder = RingBufferBuilder::new();
    let mut has_ring = false;
    let mut perf_buffers = Vec::new();
    for (index, (map, view)) in maps.iter().zip(views).enumerate() {
        if view.kind != DisplayKind::Print {
            continue;
        }
        let setup_error = |e: libbpf_rs::Error| LoadError::MapRead {
            map: view.name.clone(),
            reason: super::capture::describe(&e),
        };
        match view.map_type {
            MapType::RingBuf => {
                let queue = Rc::clone(&queue);
                ring_builder
                    .add(map, move |data: &[u8]| {
                        queue.borrow_mut().push(Event::Record(index, data.to_vec()));
                        0
                    })
                    .map_err(setup_error)?;
                has_ring = true;
            }
            MapType::PerfEventArray => {
                let samples = Rc::clone(&queue);
                let losses = Rc::clone(&queue);
                let buffer = PerfBufferBuilder::new(map)
                    .pages(PERF_BUFFER_PAGES)
                    .sample_cb(move |_cpu: i32, data: &[u8]| {
                        samples
                            .borrow_mut()
                            .push(Event::Record(index, data.to_vec()));
                    })
                    .lost_cb(move |cpu: i32, count: u64| {
                        losses.borrow_mut().push(Event::Lost(index, cpu, count));
                    })
                    .build()
                    .map_err(setup_error)?;
                perf_buffers.push(buffer);
            }
            _ => {}
        }
    }
    let ring = if has_ring {
        Some(ring_builder.build().map_err(|e| LoadError::MapRead {
            map: "ring buffers".into(),
            reason: super::capture::describe(&e),
        })?)
    } else {
        None
    };

    let read_all = |renderer: &mut Renderer<'_>| -> Result<(), LoadError> {
        let mut snapshots = Vec::new();
        for (map, view) in maps.iter().zip(views) {
            if matches!(
                view.kind,
                DisplayKind::Counter
                    | DisplayKind::Gauge
                    | DisplayKind::Hist
                    | DisplayKind::Entries
            ) {
                snapshots.push(snapshot(map, view)?);
            }
        }
        // Even with no snapshots: in table mode this redraws the event maps' records.
        renderer.snapshots(snapshots)
    };
    let drain = |renderer: &mut Renderer<'_>| -> Result<(), LoadError> {
        let events = std::mem::take(&mut *queue.borrow_mut());
        for event in events {
            match event {
                Event::Record(index, bytes) => {
                    let view = &views[index];
                    renderer.record(view, &btf_decode::decode(&view.value, &bytes))?;
                }
                Event::Lost(index, cpu, count) => renderer.lost(&views[index], cpu, count)?,
            }
        }
        Ok(())
    };

    read_all(renderer)?;
    let mut last_read = Instant::now();
    let mut next_refresh = started + REFRESH_INTERVAL;
    let reason = loop {
        if interrupt.requested() {
            break StopReason::Interrupted;
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            break StopReason::Duration;
        }
        let until = deadline.map_or(next_refresh, |d| d.min(next_refresh));
        let slice = until.saturating_duration_since(now).min(POLL_SLICE);
        let event_sources = usize::from(ring.is_some()) + perf_buffers.len();
        if event_sources == 0 {
            std::thread::sleep(slice);
        } else {
            let share = slice / event_sources as u32;
            if let Some(ring) = &ring {
                // EINTR (a signal) is expected: the loop checks the interrupt flag.
                let _ = ring.poll(share);
            }
            for buffer in &perf_buffers {
                let _ = buffer.poll(share);
            }
            drain(renderer)?;
            renderer.refresh_if_due()?;
        }
        if Instant::now() >= next_refresh {
            read_all(renderer)?;
            last_read = Instant::now();
            next_refresh += REFRESH_INTERVAL;
        }
    };
    // Whatever arrived last, then the final state.
    if let Some(ring) = &ring {
        let _ = ring.consume();
    }
    for buffer in &perf_buffers {
        let _ = buffer.consume();
    }
    drain(renderer)?;
    // Text lines are a log: a snapshot taken a moment ago (the deadline often falls on a
    // refresh) is not printed a second time. A table and JSON always end on the final state.
    if renderer.mode != OutputMode::Text || last_read.elapsed() >= FINAL_SNAPSHOT_GAP {
        read_all(renderer)?;
    }
    Ok(reason)
}

/// The width of the terminal on standard output, if it is one (asked at every redraw, so a
/// resized window is followed).
fn terminal_columns() -> Option<usize> {
    rustix::termios::tcgetwinsize(std::io::stdout())
        .ok()
        .map(|w| usize::from(w.ws_col))
        .filter(|&c| c > 0)
}

/// How many terminal rows `line` takes when the terminal is `columns` wide (one when the
/// width is unknown): a line exactly as wide as the terminal takes one row.
fn terminal_rows(line: &str, columns: Option<usize>) -> usize {
    let width = line.chars().count();
    match columns {
        Some(c) if width > c => width.div_ceil(c),
        _ => 1,
    }
}

/// In text mode, the final snapshot is skipped when the last one is younger than this.
const FINAL_SNAPSHOT_GAP: Duration = Duration::from_millis(200);

enum Event {
    Record(usize, Vec<u8>),
    Lost(usize, i32, u64),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bee_conventions() {
        assert_eq!(
            DisplayKind::of("print_events", MapType::RingBuf),
            DisplayKind::Print
        );
        assert_eq!(
            DisplayKind::of("print_events", MapType::PerfEventArray),
            DisplayKind::Print
        );
        assert_eq!(
            DisplayKind::of("counter_x", MapType::PercpuArray),
            DisplayKind::Counter
        );
        assert_eq!(
            DisplayKind::of("gauge_x", MapType::Hash),
            DisplayKind::Gauge
        );
        assert_eq!(
            DisplayKind::of("hist_x", MapType::LruHash),
            DisplayKind::Hist
        );
        assert_eq!(
            DisplayKind::of("counter_x", MapType::RingBuf),
            DisplayKind::Other
        );
        assert_eq!(
            DisplayKind::of("events", MapType::RingBuf),
            DisplayKind::Other
        );
    }

    #[test]
    fn table_mode_redraws_in_place() {
        let snapshot = || Snapshot {
            map: "hist_protocols".into(),
            type_name: "hash".into(),
            kind: DisplayKind::Hist,
            entries: vec![
                (Decoded::Int(1), Decoded::Int(4)),
                (Decoded::Int(17), Decoded::Int(2)),
            ],
            truncated: false,
        };
        let mut out = Vec::new();
        let mut renderer = Renderer::new(&mut out, OutputMode::Table);
        renderer.snapshots(vec![snapshot()]).unwrap();
        renderer.snapshots(vec![snapshot()]).unwrap();
        let text = String::from_utf8(out).unwrap();
        // The second drawing moves back over the 5 lines of the first and clears below.
        let (first, second) = text.split_once("\x1b[5F\x1b[J").expect("a redraw in place");
        assert!(
            !first.contains("\x1b[J") && !second.contains("\x1b[5F"),
            "{text:?}"
        );
        for drawing in [first, second] {
            assert!(
                drawing.contains(&format!("  1    {} 4", "#".repeat(30))),
                "{text:?}"
            );
            assert!(
                drawing.contains(&format!("  17   {:<30} 2", "#".repeat(15))),
                "{text:?}"
            );
        }
    }

    #[test]
    fn text_and_table_output_escape_what_the_object_says() {
        let snapshot = Snapshot {
            map: "counter_\x1b[2Jevil".into(),
            type_name: "array".into(),
            kind: DisplayKind::Counter,
            entries: vec![(Decoded::Int(0), Decoded::Str("a\rb".into()))],
            truncated: false,
        };
        for mode in [OutputMode::Text, OutputMode::Table] {
            let mut out = Vec::new();
            let mut renderer = Renderer::new(&mut out, mode);
            renderer.snapshots(vec![snapshot.clone()]).unwrap();
            let text = String::from_utf8(out).unwrap();
            assert!(
                !text.contains("\x1b[2J") && !text.contains('\r'),
                "{text:?}"
            );
            assert!(text.contains("counter_\\x1b[2Jevil"), "{text:?}");
        }
    }

    #[test]
    fn wrapped_lines_count_every_row_they_take() {
        assert_eq!(terminal_rows("", Some(80)), 1);
        assert_eq!(terminal_rows(&"x".repeat(80), Some(80)), 1);
        assert_eq!(terminal_rows(&"x".repeat(81), Some(80)), 2);
        assert_eq!(terminal_rows(&"x".repeat(200), Some(80)), 3);
        assert_eq!(terminal_rows(&"x".repeat(200), None), 1);
    }

    #[test]
    fn the_first_line_says_how_the_display_ends() {
        let report = crate::load::LoadReport {
            object: "probe".into(),
            programs: Vec::new(),
            maps: Vec::new(),
            pin_dir: None,
            pinned: Vec::new(),
            detached: false,
            fixed_maps: Vec::new(),
            globals_set: Vec::new(),
            warnings: Vec::new(),
        };
        for (duration, said) in [
            (None, "(Ctrl-C to stop)"),
            (Some(Duration::from_secs(3)), "(for 3.0s)"),
        ] {
            let mut out = Vec::new();
            let mut renderer = Renderer::new(&mut out, OutputMode::Text);
            renderer.stops_after(duration);
            renderer.loaded(&report).unwrap();
            let text = String::from_utf8(out).unwrap();
            let first = text.lines().next().unwrap_or_default();
            assert!(first.ends_with(said), "{first:?}");
        }
    }

    #[test]
    fn type_names_match_the_kernel() {
        assert_eq!(map_type_name(MapType::PercpuArray), "percpu_array");
        assert_eq!(map_type_name(MapType::RingBuf), "ringbuf");
        assert_eq!(map_type_name(MapType::PerfEventArray), "perf_event_array");
        assert_eq!(
            program_type_name(libbpf_rs::ProgramType::SchedCls),
            "sched_cls"
        );
    }

    #[test]
    fn text_formatting() {
        let v = Decoded::Fields(vec![
            ("pid".into(), Decoded::Int(1)),
            ("comm".into(), Decoded::Str("my prog".into())),
            (
                "tags".into(),
                Decoded::List(vec![Decoded::Int(1), Decoded::Int(2)]),
            ),
            (
                "inner".into(),
                Decoded::Fields(vec![("a".into(), Decoded::Int(1))]),
            ),
        ]);
        assert_eq!(
            format_value(&v),
            "pid=1 comm=\"my prog\" tags=[1, 2] inner={a=1}"
        );
    }

    #[test]
    fn json_mode_writes_one_object_per_line() {
        let mut out = Vec::new();
        let mut renderer = Renderer::new(&mut out, OutputMode::Json);
        renderer
            .snapshots(vec![Snapshot {
                map: "counter_getpid".into(),
                type_name: "array".into(),
                kind: DisplayKind::Counter,
                entries: vec![(Decoded::Int(0), Decoded::Int(12))],
                truncated: false,
            }])
            .unwrap();
        renderer.stopped("duration", None).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                r#"{"event":"snapshot","map":"counter_getpid","type":"array","kind":"counter","entries":[{"key":0,"value":12}]}"#,
                r#"{"event":"stopped","reason":"duration"}"#,
            ]
        );
    }
}
