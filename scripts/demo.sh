#!/usr/bin/env bash
# The main job on the bundled example: pack the test programs into an archive, verify
# it, list it, inspect one image, import it into a layout, then load the tracepoint counter for a few seconds
# and show its map while something calls getpid. Installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
ensure_packages "${BUILD_PACKAGES[@]}"
mount_kernel_fs

cargo build --release --locked --quiet
bin=target/release/ebpf-layout
out=demo-out
rm -rf "$out"
mkdir -p "$out"

set -x
# The build side: one reproducible archive to carry across the air gap.
"$bin" pack testdata/tp_counter.bpf.o testdata/ringbuf_events.bpf.o testdata/xdp_count.bpf.o \
    testdata/multi_prog.bpf.o -o "$out/bundle.tar"
# The air-gapped side: check everything, look inside, load — all from the archive.
"$bin" verify --strict "$out/bundle.tar"
"$bin" list "$out/bundle.tar"
"$bin" inspect "$out/bundle.tar:tp_counter"
"$bin" copy "$out/bundle.tar" "$out/site-layout"
"$bin" verify --strict "$out/site-layout"
{ set +x; } 2>/dev/null
if [ "$(id -u)" -ne 0 ]; then
    echo "(skipping load: loading eBPF needs root, or CAP_BPF and CAP_PERFMON)"
    exit 0
fi
# Something to count: getpid calls while the program runs.
(for _ in $(seq 1 30); do perl -e 'syscall(39) for 1..10' 2>/dev/null || true; sleep 0.1; done) &
set -x
"$bin" load "$out/bundle.tar:tp_counter" --duration 4s --display text
