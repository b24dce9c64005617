//! The module map holds by construction: imports between the library's top-level modules
//! point one way (no module imports one that imports it back, however long the loop), and
//! each module imports only from its own layer or the layers below, as
//! docs/architecture.md draws them. Read from the `crate::` paths in the sources.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, bottom first, and the top-level modules in each (docs/architecture.md).
const LAYERS: &[(&str, &[&str])] = &[
    (
        "format",
        &[
            "oci", "elf", "graph", "limits", "report", "progress", "program",
        ],
    ),
    (
        "storage",
        &["store", "transfer", "layout", "archive", "source"],
    ),
    (
        "operations",
        &[
            "image",
            "sign",
            "summary",
            "verify",
            "copy",
            "pack",
            "tag",
            "trust",
            "kernel_btf",
        ],
    ),
    ("loader", &["load"]),
    // Each layer has its own error type; `error` gathers them all, so it sits above
    // every layer it gathers and below the command line that uses it.
    ("errors gathered", &["error"]),
    ("front end", &["cli"]),
];

/// Modules a layer may not import although they lie below it: the loader depends on the
/// format layer only, so that loading never reaches storage or operations by accident.
const LOADER_MAY_IMPORT: &[&str] = &["oci", "elf", "limits", "report", "progress", "program"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`src/layout/gc.rs` → `layout`).
fn module_of(file: &Path) -> String {
    let rel = file.strip_prefix(src()).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// The top-level modules named by `crate::…` paths in `text`, comments excluded: both
/// `use crate::a::b;`, `use crate::{a, b::c};` and inline `crate::a::f()`.
fn imported(text: &str) -> BTreeSet<String> {
    let code: String = text
        .lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a, b::{c, d}, e}`: the first segment of each top-level item.
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.insert(first_segment(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            found.insert(first_segment(&item));
        } else {
            found.insert(first_segment(rest));
        }
    }
    found.retain(|m| !m.is_empty());
    found
}

fn first_segment(s: &str) -> String {
    s.trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// Top-level module → the top-level modules it imports.
fn import_graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let module = module_of(&file);
        if module == "lib" || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let deps = graph.entry(module.clone()).or_default();
        for m in imported(&text) {
            if m != module && !["self", "super"].contains(&m.as_str()) {
                deps.insert(m);
            }
        }
    }
    let modules: BTreeSet<String> = graph.keys().cloned().collect();
    for deps in graph.values_mut() {
        deps.retain(|d| modules.contains(d));
    }
    graph
}

/// A loop of imports through `start`, if there is one.
fn cycle_through(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    fn search(
        graph: &BTreeMap<String, BTreeSet<String>>,
        start: &str,
        at: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        for next in graph.get(at).into_iter().flatten() {
            if next == start {
                path.push(next.clone());
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if search(graph, start, next, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.to_string()];
    let mut seen = BTreeSet::new();
    search(graph, start, start, &mut path, &mut seen).then_some(path)
}

#[test]
fn no_top_level_module_imports_one_that_imports_it_back() {
    let graph = import_graph();
    assert!(graph.len() > 10, "the source tree was read: {graph:?}");
    let loops: Vec<String> = graph
        .keys()
        .filter_map(|m| cycle_through(&graph, m))
        .map(|path| path.join(" → "))
        .collect();
    assert!(loops.is_empty(), "import loops:\n{}", loops.join("\n"));
}

#[test]
fn every_module_imports_only_its_own_layer_or_those_below() {
    let graph = import_graph();
    let layer_of: BTreeMap<&str, usize> = LAYERS
        .iter()
        .enumerate()
        .flat_map(|(i, (_, ms))| ms.iter().map(move |m| (*m, i)))
        .collect();
    let mut wrong = Vec::new();
    for (module, deps) in &graph {
        let Some(&layer) = layer_of.get(module.as_str()) else {
            wrong.push(format!(
                "{module} is in no layer: add it to LAYERS and to docs/architecture.md"
            ));
            continue;
        };
        for dep in deps {
            let dep_layer = layer_of.get(dep.as_str()).copied().unwrap_or(usize::MAX);
            if dep_layer > layer {
                wrong.push(format!(
                    "{module} ({}) imports {dep} ({})",
                    LAYERS[layer].0,
                    LAYERS.get(dep_layer).map_or("no layer", |l| l.0)
                ));
            }
            if module == "load" && !LOADER_MAY_IMPORT.contains(&dep.as_str()) {
                wrong.push(format!("load imports {dep}, outside the format layer"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_import_reader_sees_every_form_of_path() {
    let text =
        "use crate::a::b;\nuse crate::{c, d::{e, f}, g::h};\nlet x = crate::i::j();\n// crate::k\n";
    let found: Vec<String> = imported(text).into_iter().collect();
    assert_eq!(found, ["a", "c", "d", "g", "i"]);
}
