//! `--metrics ADDR`: the maps as Prometheus metrics at `http://ADDR/metrics`, as bumblebee's
//! `bee run` serves them.
//!
//! | map                   | metric (name = the map's name)                                     |
//! |-----------------------|--------------------------------------------------------------------|
//! | `counter_*`           | a counter per entry (`NAME_total`), the key's fields as labels     |
//! | `gauge_*`             | a gauge per entry, the key's fields as labels                      |
//! | `hist_*`              | a histogram: each key is a bucket's upper bound (`le`), its value the count in that bucket; a struct key's `bucket` field (or its last integer field) is the bound, its other fields are labels |
//! | `print_*` ring/perf   | `ebpf_layout_records_total` (records received while serving) and `ebpf_layout_records_lost_total` (perf buffer losses) |
//!
//! Every sample carries `image` and `map` labels; a struct key adds one label per field
//! (a scalar key: `key`), named `key_FIELD` when the field's name is taken or not a valid
//! label name. Values that are not numbers (struct values, per-CPU arrays of structs) are
//! left out. A histogram's `_sum` is Σ bound × count, an upper estimate (the maps hold no
//! sums). Maps are read on each scrape, so the values are current.
//!
//! The exposition is the official `prometheus-client` crate's text encoder: OpenMetrics
//! text for clients that ask for it (Prometheus does), the classic Prometheus text format
//! (0.0.4) for the others (curl, `promtool check metrics`); the two differ here only in how
//! counters' HELP/TYPE lines are named and the `# EOF` line. The server is `tiny_http` on the one address asked
//! for, in its own thread, serving `GET /metrics` and nothing else. There is no default
//! address: nothing listens unless `--metrics` is given.

use std::collections::{BTreeMap, HashMap};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use libbpf_rs::MapHandle;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric as _, NoLabelSet};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::btf_decode::Decoded;
use super::display::{self, format_value, DisplayKind, MapView};
use super::errors::LoadError;

/// The `Content-Type` of the OpenMetrics text format the encoder writes.
const OPENMETRICS_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The `Content-Type` of the classic Prometheus text format (for clients that do not ask
/// for OpenMetrics: curl, `promtool check metrics`, older scrapers).
const PROMETHEUS_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// The metric counting event records received.
const RECORDS_METRIC: &str = "ebpf_layout_records";
/// The metric counting records a perf buffer lost.
const LOST_METRIC: &str = "ebpf_layout_records_lost";

/// A map served as metrics.
pub(crate) struct Exported {
    /// The image it belongs to (label `image`).
    pub image: String,
    /// The map's own name (label `map`).
    pub map: String,
    /// The map.
    pub handle: MapHandle,
    /// How it is decoded; `view.name` is the name records are counted under.
    pub view: MapView,
}

/// The maps of a loaded object, to serve under `image`.
pub(crate) fn exported(
    obj: &libbpf_rs::Object,
    views: &[MapView],
    image: &str,
) -> Result<Vec<Exported>, LoadError> {
    obj.maps()
        .zip(views)
        .map(|(map, view)| {
            Ok(Exported {
                image: image.to_owned(),
                map: view.name.clone(),
                handle: MapHandle::try_from(&map).map_err(|e| LoadError::MapRead {
                    map: view.name.clone(),
                    reason: super::capture::describe(&e),
                })?,
                view: view.clone(),
            })
        })
        .collect()
}

/// Record counts per event map (by [`MapView::name`]), kept by the display loop.
#[derive(Debug, Default)]
pub(crate) struct RecordCounts {
    counts: Mutex<HashMap<String, (u64, u64)>>,
}

impl RecordCounts {
    /// One record arrived from `map`.
    pub(crate) fn record(&self, map: &str) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.entry(map.to_owned()).or_default().0 += 1;
    }

    /// `count` records of `map` were lost.
    pub(crate) fn lost(&self, map: &str, count: u64) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = counts.entry(map.to_owned()).or_default();
        entry.1 = entry.1.saturating_add(count);
    }

    fn get(&self, map: &str) -> (u64, u64) {
        let counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.get(map).copied().unwrap_or_default()
    }
}

#[derive(Default)]
struct Shared {
    maps: Mutex<Vec<Exported>>,
    records: Arc<RecordCounts>,
}

/// The HTTP endpoint; it stops serving when dropped.
pub(crate) struct MetricsServer {
    addr: SocketAddr,
    server: Arc<tiny_http::Server>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for MetricsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsServer")
            .field("addr", &self.addr)
            .finish()
    }
}

impl MetricsServer {
    /// Listens on `addr` now (so that a bad or busy address fails before anything is
    /// loaded) and serves `/metrics` from a thread; maps appear once `load` or
    /// `watch` has published them.
    pub(crate) fn bind(addr: SocketAddr) -> Result<MetricsServer, LoadError> {
        let listener = TcpListener::bind(addr)
            .map_err(|e| LoadError::io(format!("listening on {addr} for --metrics"), e))?;
        let addr = listener.local_addr().unwrap_or(addr);
        let server = tiny_http::Server::from_listener(listener, None).map_err(|e| {
            LoadError::io(
                format!("serving metrics on {addr}"),
                std::io::Error::other(e.to_string()),
            )
        })?;
        let server = Arc::new(server);
        let shared = Arc::new(Shared::default());
        let thread = {
            let (server, shared) = (Arc::clone(&server), Arc::clone(&shared));
            std::thread::Builder::new()
                .name("metrics".into())
                .spawn(move || serve(&server, &shared))
                .map_err(|e| LoadError::io("starting the metrics thread", e))?
        };
        Ok(MetricsServer {
            addr,
            server,
            shared,
            thread: Some(thread),
        })
    }

    /// Serves these maps from now on.
    pub(crate) fn publish(&self, maps: Vec<Exported>) {
        *self
            .shared
            .maps
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = maps;
    }

    /// Where the display loop counts event records.
    pub(crate) fn record_counts(&self) -> Arc<RecordCounts> {
        Arc::clone(&self.shared.records)
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(server: &tiny_http::Server, shared: &Shared) {
    // `recv` fails once `unblock` was called: then this thread ends.
    while let Ok(request) = server.recv() {
        let path = request.url().split('?').next().unwrap_or("");
        let openmetrics = request.headers().iter().any(|h| {
            h.field.equiv("Accept") && h.value.as_str().contains("application/openmetrics-text")
        });
        let response = if path == "/metrics" && *request.method() == tiny_http::Method::Get {
            match exposition(shared) {
                Ok(text) => {
                    let (text, content_type) = if openmetrics {
                        (text, OPENMETRICS_TYPE)
                    } else {
                        (classic_text(&text), PROMETHEUS_TYPE)
                    };
                    tiny_http::Response::from_string(text).with_header(
                        tiny_http::Header::from_bytes("Content-Type", content_type)
                            .expect("a valid header"),
                    )
                }
                Err(e) => tiny_http::Response::from_string(format!("{e}\n")).with_status_code(500),
            }
        } else {
            tiny_http::Response::from_string("ebpf-layout serves /metrics only\n")
                .with_status_code(404)
        };
        let _ = request.respond(response);
    }
}

/// The metrics text: every published map read now, encoded by `prometheus-client`.
fn exposition(shared: &Shared) -> Result<String, String> {
    let families = {
        let maps = shared.maps.lock().unwrap_or_else(PoisonError::into_inner);
        collect(&maps, &shared.records)?
    };
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Families(families)));
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry)
        .map_err(|e| format!("encoding the metrics: {e}"))?;
    Ok(text)
}

/// The OpenMetrics text of [`exposition`] in the classic Prometheus text format (0.0.4),
/// which differs only where this exposition uses it: a counter's HELP and TYPE lines name
/// the family with its `_total` suffix, and there is no `# UNIT` or `# EOF` line.
fn classic_text(openmetrics: &str) -> String {
    let counters: Vec<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(&name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

/// A sample's labels, in order.
type Labels = Vec<(String, String)>;

/// Histogram buckets: (upper bound, count in that bucket), not cumulative.
type Buckets = Vec<(f64, u64)>;

/// One histogram: its labels, sum, count and buckets.
#[derive(Debug, Clone, PartialEq)]
struct Histogram {
    labels: Labels,
    sum: f64,
    count: u64,
    buckets: Buckets,
}

/// One metric family, read from the maps.
#[derive(Debug, Clone, PartialEq)]
enum Family {
    Counter(Vec<(Labels, f64)>),
    Gauge(Vec<(Labels, f64)>),
    Histogram(Vec<Histogram>),
}

/// Every family by metric name (sorted, so scrapes list them in a stable order).
fn collect(
    maps: &[Exported],
    records: &RecordCounts,
) -> Result<BTreeMap<String, (String, Family)>, String> {
    let mut families: BTreeMap<String, (String, Family)> = BTreeMap::new();
    for exported in maps {
        let view = &exported.view;
        let base = vec![
            ("image".to_owned(), exported.image.clone()),
            ("map".to_owned(), exported.map.clone()),
        ];
        if view.kind == DisplayKind::Print {
            let (received, lost) = records.get(&view.name);
            for (metric, help, value) in [
                (
                    RECORDS_METRIC,
                    "Records received from print_ ring and perf buffers.",
                    received,
                ),
                (LOST_METRIC, "Records print_ perf buffers lost.", lost),
            ] {
                let family = families
                    .entry(metric.to_owned())
                    .or_insert_with(|| (help.to_owned(), Family::Counter(Vec::new())));
                if let Family::Counter(samples) = &mut family.1 {
                    samples.push((base.clone(), value as f64));
                }
            }
            continue;
        }
        if !matches!(
            view.kind,
            DisplayKind::Counter | DisplayKind::Gauge | DisplayKind::Hist
        ) {
            continue;
        }
        let snapshot = display::snapshot(&exported.handle, view).map_err(|e| e.to_string())?;
        let name = metric_name(&exported.map);
        let help = format!("eBPF map {} ({})", exported.map, view.type_name);
        let family = match view.kind {
            DisplayKind::Counter => Family::Counter(Vec::new()),
            DisplayKind::Gauge => Family::Gauge(Vec::new()),
            _ => Family::Histogram(Vec::new()),
        };
        let (_, family) = families.entry(name).or_insert((help, family));
        match family {
            Family::Counter(samples) | Family::Gauge(samples) => {
                for (key, value) in &snapshot.entries {
                    if let Some(value) = value.as_f64() {
                        let mut labels = base.clone();
                        key_labels(key, &mut labels);
                        samples.push((labels, value));
                    }
                }
            }
            Family::Histogram(histograms) => {
                // One histogram per set of non-bucket labels.
                let mut grouped: BTreeMap<Labels, Buckets> = BTreeMap::new();
                for (key, value) in &snapshot.entries {
                    let (Some((bound, rest)), Some(count)) = (bucket_of(key), value.as_f64())
                    else {
                        continue;
                    };
                    let mut labels = base.clone();
                    if let Some(rest) = rest {
                        key_labels(&rest, &mut labels);
                    }
                    grouped
                        .entry(labels)
                        .or_default()
                        .push((bound, count.max(0.0) as u64));
                }
                for (labels, mut buckets) in grouped {
                    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
                    let count: u64 = buckets.iter().map(|b| b.1).sum();
                    let sum: f64 = buckets.iter().map(|(le, n)| le * *n as f64).sum();
                    // The +Inf bucket: the encoder writes cumulative counts.
                    buckets.push((f64::MAX, 0));
                    histograms.push(Histogram {
                        labels,
                        sum,
                        count,
                        buckets,
                    });
                }
            }
        }
    }
    Ok(families)
}

/// A valid metric name for a map name (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
fn metric_name(map: &str) -> String {
    let mut name: String = map
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    name
}

/// The labels of a key: one per struct field, or `key` for a scalar.
fn key_labels(key: &Decoded, labels: &mut Labels) {
    let mut add = |name: &str, value: &Decoded| {
        let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with("__");
        let mut label = if valid {
            name.to_owned()
        } else {
            format!("key_{}", metric_name(name).trim_start_matches('_'))
        };
        while labels.iter().any(|(l, _)| *l == label) || label == "le" {
            label = format!("key_{label}");
        }
        labels.push((label, label_value(value)));
    };
    match key {
        Decoded::Fields(fields) => {
            for (name, value) in fields {
                add(name, value);
            }
        }
        other => add("key", other),
    }
}

fn label_value(value: &Decoded) -> String {
    match value {
        Decoded::Str(s) => s.clone(),
        other => format_value(other),
    }
}

/// A histogram key's bucket bound, and what else the key holds (as labels).
fn bucket_of(key: &Decoded) -> Option<(f64, Option<Decoded>)> {
    match key {
        Decoded::Fields(fields) => {
            let at = fields
                .iter()
                .position(|(n, v)| (n == "bucket" || n == "le") && v.as_f64().is_some())
                .or_else(|| {
                    fields
                        .iter()
                        .rposition(|(_, v)| matches!(v, Decoded::Int(_)))
                })?;
            let bound = fields[at].1.as_f64()?;
            let mut rest = fields.clone();
            rest.remove(at);
            Some((bound, (!rest.is_empty()).then_some(Decoded::Fields(rest))))
        }
        other => Some((other.as_f64()?, None)),
    }
}

/// The families read for one scrape, encoded by `prometheus-client`.
#[derive(Debug)]
struct Families(BTreeMap<String, (String, Family)>);

impl prometheus_client::collector::Collector for Families {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for (name, (help, family)) in &self.0 {
            match family {
                Family::Counter(samples) => {
                    let mut metric =
                        encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
                    for (labels, value) in samples {
                        let sample = metric.encode_family(labels)?;
                        if value.fract() == 0.0 && *value >= 0.0 && *value <= u64::MAX as f64 {
                            ConstCounter::new(*value as u64).encode(sample)?;
                        } else {
                            ConstCounter::new(*value).encode(sample)?;
                        }
                    }
                }
                Family::Gauge(samples) => {
                    let mut metric =
                        encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
                    for (labels, value) in samples {
                        let sample = metric.encode_family(labels)?;
                        if value.fract() == 0.0 && value.abs() <= i64::MAX as f64 {
                            ConstGauge::new(*value as i64).encode(sample)?;
                        } else {
                            ConstGauge::new(*value).encode(sample)?;
                        }
                    }
                }
                Family::Histogram(histograms) => {
                    let mut metric =
                        encoder.encode_descriptor(name, help, None, MetricType::Histogram)?;
                    for h in histograms {
                        let mut sample = metric.encode_family(&h.labels)?;
                        sample.encode_histogram::<NoLabelSet>(h.sum, h.count, &h.buckets, None)?;
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(families: BTreeMap<String, (String, Family)>) -> String {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Families(families)));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        text
    }

    fn base() -> Labels {
        vec![
            ("image".into(), "probe".into()),
            ("map".into(), "counter_x".into()),
        ]
    }

    #[test]
    fn struct_keys_become_labels() {
        let key = Decoded::Fields(vec![
            ("comm".into(), Decoded::Str("sh".into())),
            ("map".into(), Decoded::Int(3)),
            ("9lives".into(), Decoded::Int(1)),
        ]);
        let mut labels = base();
        key_labels(&key, &mut labels);
        assert_eq!(
            labels[2..],
            [
                ("comm".into(), "sh".into()),
                ("key_map".into(), "3".into()),
                ("key_9lives".into(), "1".into())
            ]
        );
        let mut labels = base();
        key_labels(&Decoded::Int(0), &mut labels);
        assert_eq!(labels[2], ("key".into(), "0".into()));
    }

    #[test]
    fn counters_gauges_and_histograms_in_the_exposition() {
        let mut families = BTreeMap::new();
        let mut labels = base();
        labels.push(("key".into(), "0".into()));
        families.insert(
            "counter_x".into(),
            ("help".into(), Family::Counter(vec![(labels.clone(), 12.0)])),
        );
        families.insert(
            "gauge_y".into(),
            ("help".into(), Family::Gauge(vec![(labels, -3.0)])),
        );
        families.insert(
            "hist_z".into(),
            (
                "help".into(),
                Family::Histogram(vec![Histogram {
                    labels: base(),
                    sum: 1.0 * 2.0 + 4.0 * 1.0,
                    count: 3,
                    buckets: vec![(1.0, 2), (4.0, 1), (f64::MAX, 0)],
                }]),
            ),
        );
        let text = encode(families);
        assert!(text.contains("# TYPE counter_x counter\n"), "{text}");
        assert!(
            text.contains(r#"counter_x_total{image="probe",map="counter_x",key="0"} 12"#),
            "{text}"
        );
        assert!(
            text.contains(r#"gauge_y{image="probe",map="counter_x",key="0"} -3"#),
            "{text}"
        );
        assert!(
            text.contains(r#"hist_z_bucket{le="4.0",image="probe",map="counter_x"} 3"#),
            "{text}"
        );
        assert!(
            text.contains(r#"hist_z_bucket{le="+Inf",image="probe",map="counter_x"} 3"#),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn the_classic_text_format_names_counters_with_their_suffix() {
        let openmetrics = "# HELP c_x help.\n# TYPE c_x counter\nc_x_total{map=\"c_x\"} 1\n\
                           # HELP g gauge.\n# TYPE g gauge\ng 2\n# EOF\n";
        assert_eq!(
            classic_text(openmetrics),
            "# HELP c_x_total help.\n# TYPE c_x_total counter\nc_x_total{map=\"c_x\"} 1\n\
             # HELP g gauge.\n# TYPE g gauge\ng 2\n"
        );
    }

    #[test]
    fn histogram_buckets_come_from_the_key() {
        assert_eq!(bucket_of(&Decoded::Int(8)), Some((8.0, None)));
        let key = Decoded::Fields(vec![
            ("cpu".into(), Decoded::Int(1)),
            ("bucket".into(), Decoded::Int(16)),
        ]);
        assert_eq!(
            bucket_of(&key),
            Some((
                16.0,
                Some(Decoded::Fields(vec![("cpu".into(), Decoded::Int(1))]))
            ))
        );
        assert_eq!(bucket_of(&Decoded::Str("x".into())), None);
    }
}
