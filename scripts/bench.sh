#!/usr/bin/env bash
# Benchmarks, reported as ratios measured in one run (never absolute targets):
# each command's time divided by `openssl dgst -sha256` over the same bytes (the
# physical limit: SHA-256 on one core), and by the tool users would pick instead.
#
#   bash scripts/bench.sh [SIZE_MIB] [SMALL_IMAGES]     (defaults: 512 and 1000)
#
# Peak memory (max RSS) is reported for each of our commands. Each timing is the best
# of 3 runs with a warm page cache.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
ensure_packages "${BUILD_PACKAGES[@]}" llvm openssl time skopeo

size_mib=${1:-512}
small=${2:-1000}
cargo build --release --locked --quiet
bin=$PWD/target/release/ebpf-layout
work=$(mktemp -d "${TMPDIR:-/var/tmp}/ebpf-layout-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

# best_of CMD...: prints the best wall time (seconds) of 3 runs and records the max RSS
# (KiB) of the best run in $work/rss (it runs in a subshell). $setup, when set, runs
# (untimed) before each run.
setup=
best_of() {
    local best="" t r
    for _ in 1 2 3; do
        if [ -n "$setup" ]; then bash -c "$setup"; fi
        local t0=$EPOCHREALTIME
        /usr/bin/time -f "%M" -o "$work/time" "$@" >/dev/null 2>"$work/stderr" || {
            cat "$work/stderr" >&2
            return 1
        }
        t=$(awk "BEGIN{print $EPOCHREALTIME - $t0}")
        read -r r <"$work/time"
        if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then
            best=$t
            echo "$r" >"$work/rss"
        fi
    done
    echo "$best"
}

ratio() { awk "BEGIN{ if ($2 > 0) printf \"%.2f\", $1 / $2; else print \"-\" }"; }

report() { # name time baseline_time [other_name other_time]
    local line
    line=$(printf "%-48s %7.3f s  %6s× openssl" "$1" "$2" "$(ratio "$2" "$3")")
    if [ -n "${4:-}" ]; then
        line+=$(printf "  %6s× %s" "$(ratio "$2" "$5")" "$4")
    fi
    if [ -s "$work/rss" ]; then
        line+=$(printf "  max RSS %6.1f MiB" "$(awk "BEGIN{print $(cat "$work/rss")/1024}")")
    fi
    echo "$line"
}

echo "machine: $(nproc) cores, $(uname -r), $(openssl version)"
echo

# --- one large object -------------------------------------------------------------
echo "== one ${size_mib} MiB BPF object =="
head -c "$((size_mib << 20))" /dev/urandom >"$work/pad.bin"
llvm-objcopy --add-section .padding="$work/pad.bin" --set-section-flags .padding=readonly,data \
    testdata/tp_counter.bpf.o "$work/big.bpf.o"
rm "$work/pad.bin"
t_openssl=$(best_of openssl dgst -sha256 "$work/big.bpf.o")
report "openssl dgst -sha256 (the limit)" "$t_openssl" "$t_openssl"

rm -rf "$work/big-layout"
setup="rm -rf '$work/big-layout'; sync"
t_pack=$(best_of "$bin" pack "$work/big.bpf.o" -o "$work/big-layout")
setup=
report "pack → layout" "$t_pack" "$t_openssl"

t_verify=$(best_of "$bin" verify "$work/big-layout")
report "verify layout" "$t_verify" "$t_openssl"

t_inspect=$(best_of "$bin" inspect "$work/big-layout")
report "inspect (hash + parse the object)" "$t_inspect" "$t_openssl"

setup="rm -f '$work/skopeo.tar' '$work/big.tar' '$work/big2.tar'; rm -rf '$work/imported'; sync"
t_skopeo=$(best_of skopeo copy --quiet "oci:$work/big-layout:big" "oci-archive:$work/skopeo.tar:big")
report "skopeo copy oci: → oci-archive: (for scale)" "$t_skopeo" "$t_openssl"
t_copy_tar=$(best_of "$bin" copy "$work/big-layout" "$work/big.tar")
report "copy layout → .tar" "$t_copy_tar" "$t_openssl" "skopeo" "$t_skopeo"
t_pack_tar=$(best_of "$bin" pack "$work/big.bpf.o" -o "$work/big2.tar")
report "pack → .tar" "$t_pack_tar" "$t_openssl"
setup=
"$bin" copy "$work/big-layout" "$work/big.tar" >/dev/null
t_verify_tar=$(best_of "$bin" verify "$work/big.tar")
report "verify .tar" "$t_verify_tar" "$t_openssl"
setup="rm -rf '$work/imported'; sync"
t_copy_in=$(best_of "$bin" copy "$work/big.tar" "$work/imported")
setup=
report "copy .tar → layout" "$t_copy_in" "$t_openssl"
rm -rf "$work/imported" "$work/big2.tar" "$work/skopeo.tar"
echo

# --- many small images -------------------------------------------------------------
echo "== ${small} small images =="
mkdir -p "$work/small"
for i in $(seq 1 "$small"); do
    # Distinct objects: the same program with a distinct 8-byte section.
    printf '%08d' "$i" >"$work/tag.bin"
    llvm-objcopy --add-section .note.id="$work/tag.bin" testdata/tp_counter.bpf.o "$work/small/p$i.bpf.o"
done
t_cat=$(best_of bash -c "cat '$work'/small/*.bpf.o | openssl dgst -sha256")
report "openssl dgst -sha256 over all objects" "$t_cat" "$t_cat"
# Many small files are bound by creating files, not by hashing: 'cp -r' of the objects
# is the second yardstick (pack creates three files per image).
setup="rm -rf '$work/small-cp'; sync"
t_cpr=$(best_of cp -r "$work/small" "$work/small-cp")
report "cp -r of the objects (file-creation yardstick)" "$t_cpr" "$t_cat"
setup="rm -rf '$work/small-layout'; sync"
t_spack=$(best_of "$bin" pack "$work/small" -o "$work/small-layout")
setup=
"$bin" pack "$work/small" -o "$work/small-layout" >/dev/null
report "pack ${small} objects (one call)" "$t_spack" "$t_cat" "cp -r" "$t_cpr"
t_sverify=$(best_of "$bin" verify "$work/small-layout")
report "verify ${small} images" "$t_sverify" "$t_cat"
t_slist=$(best_of "$bin" list "$work/small-layout")
report "list ${small} images" "$t_slist" "$t_cat"
cp testdata/xdp_count.bpf.o "$work/one-more.bpf.o"
setup="rm -rf '$work/small-copy'; cp -a '$work/small-layout' '$work/small-copy'; sync"
t_add=$(best_of "$bin" pack "$work/one-more.bpf.o" -o "$work/small-copy")
setup=
report "add one image to the ${small}-image layout" "$t_add" "$t_cat"
