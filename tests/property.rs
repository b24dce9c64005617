//! Property: verify accepts everything pack produces, whatever the mix of objects,
//! names, platforms, annotations and successive packs into one layout.

use std::collections::BTreeMap;

use ebpf_layout::copy::{copy, CopyOptions};
use ebpf_layout::oci::{ImageRef, Platform, RefName, Selector};
use ebpf_layout::pack::{pack, PackOptions};
use ebpf_layout::verify::{verify, VerifyOptions};
use proptest::prelude::*;

use crate::util::*;

const OBJECTS: [&str; 5] = [
    "tp_counter.bpf.o",
    "xdp_count.bpf.o",
    "multi_prog.bpf.o",
    "ringbuf_events.bpf.o",
    "verifier_reject.bpf.o",
];

#[derive(Debug, Clone)]
struct Step {
    objects: Vec<usize>,
    tag: Option<String>,
    arch: &'static str,
    annotation: Option<(String, String)>,
    created: Option<u32>,
}

fn step() -> impl Strategy<Value = Step> {
    (
        proptest::sample::subsequence((0..OBJECTS.len()).collect::<Vec<_>>(), 1..=OBJECTS.len()),
        proptest::option::of(
            "[a-z][a-z0-9]{0,8}(/[a-z0-9]{1,6})?(:[a-z0-9]{1,4}(\\.[a-z0-9]{1,3})?)?",
        ),
        prop_oneof![Just("amd64"), Just("arm64"), Just("riscv64")],
        proptest::option::of(("[a-z]{1,6}\\.[a-z]{1,6}", "[ -~]{0,20}")),
        proptest::option::of(any::<u32>()),
    )
        .prop_map(|(objects, tag, arch, annotation, created)| Step {
            objects,
            tag,
            arch,
            annotation,
            created,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn verify_accepts_every_layout_pack_produces(steps in proptest::collection::vec(step(), 1..4)) {
        let d = Dir::new();
        let out = d.path("layout");
        let mut moved = false;
        for s in &steps {
            let tag = if s.objects.len() == 1 { s.tag.as_deref().map(|t| RefName::parse(t).unwrap()) } else { None };
            let report = pack(&PackOptions {
                inputs: s.objects.iter().map(|&i| testdata(OBJECTS[i])).collect(),
                output: out.clone(),
                tag,
                platform: Platform::linux(s.arch),
                annotations: s.annotation.iter().cloned().collect::<BTreeMap<_, _>>(),
                created: s.created.map(|c| ebpf_layout::pack::created_from_epoch(&c.to_string()).unwrap()),
                ..Default::default()
            }).unwrap();
            moved |= report.images.iter().any(|i| i.change == "moved");
        }
        let layout = ebpf_layout::layout::Layout::open(&out).unwrap();
        let report = verify(&layout, "layout", &Selector::All, &VerifyOptions { strict: !moved, ..Default::default() }).unwrap();
        prop_assert!(report.ok, "{:#?}", report.problems);
        prop_assert_eq!(report.errors, 0);

        // And everything copy makes of it: an archive, and a fresh layout from that
        // archive (copies carry only what is referenced, so they verify strictly).
        let tar = d.path(if steps.len() % 2 == 0 { "copy.tar" } else { "copy.tar.gz" });
        let back = d.path("back");
        for (from, to) in [(out.clone(), tar.clone()), (tar.clone(), back.clone())] {
            copy(&CopyOptions {
                source: ImageRef::parse(from.to_str().unwrap()).unwrap(),
                destination: to,
                name: None,
                force: false,
                mtime: 0,
                limits: Default::default(),
                progress: Default::default(),
            }).unwrap();
        }
        for target in [&tar, &back] {
            let source = ebpf_layout::source::open(target).unwrap();
            let report = verify(source.as_ref(), "copy", &Selector::All, &VerifyOptions { strict: true, ..Default::default() }).unwrap();
            prop_assert!(report.ok, "{}: {:#?}", target.display(), report.problems);
        }
    }
}
