#!/usr/bin/env bash
# The main job on the bundled example: pack the test programs into a layout, list it,
# inspect one image, verify everything. Installs what is missing first.
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
"$bin" pack testdata/tp_counter.bpf.o testdata/ringbuf_events.bpf.o testdata/xdp_count.bpf.o \
    testdata/multi_prog.bpf.o -o "$out/bundle"
"$bin" list "$out/bundle"
"$bin" inspect "$out/bundle:tp_counter"
"$bin" verify --strict "$out/bundle"
