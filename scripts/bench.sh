#!/usr/bin/env bash
# Benchmarks, reported as ratios measured in one run (never absolute targets):
# each command's time divided by `openssl dgst -sha256` over the same bytes (the
# physical limit: SHA-256 on one core), and by the tool users would pick instead.
#
#   bash scripts/bench.sh [SIZE_MIB] [SMALL_IMAGES] [NAMES]   (defaults: 512, 1000, 60000)
#
# The last part times the name-handling commands on a layout with NAMES ref names (and
# on one with a quarter as many): growth is the ratio of the two times, 4.00 when a
# command is linear in the number of index.json entries.
#
# Peak memory (max RSS) and CPU time (user + system, which other load on the machine
# disturbs less than wall time) are reported for each command. Each timing is the best
# of 3 runs with a warm page cache.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
ensure_packages "${BUILD_PACKAGES[@]}" llvm openssl time skopeo jq

size_mib=${1:-512}
small=${2:-1000}
names=${3:-60000}
cargo build --release --locked --quiet
bin=$PWD/target/release/ebpf-layout
work=$(mktemp -d "${TMPDIR:-/var/tmp}/ebpf-layout-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

# best_of CMD...: prints the best wall time (seconds) of 3 runs and records the max RSS
# (KiB) and CPU seconds of the best run in $work/rss and $work/cpu (it runs in a
# subshell). $setup, when set, runs
# (untimed) before each run.
setup=
best_of() {
    local best="" t r
    for _ in 1 2 3; do
        if [ -n "$setup" ]; then bash -c "$setup"; fi
        local t0=$EPOCHREALTIME
        /usr/bin/time -f "%M %U %S" -o "$work/time" "$@" >/dev/null 2>"$work/stderr" || {
            cat "$work/stderr" >&2
            return 1
        }
        t=$(awk "BEGIN{print $EPOCHREALTIME - $t0}")
        read -r r user sys <"$work/time"
        if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then
            best=$t
            echo "$r" >"$work/rss"
            awk "BEGIN{print $user + $sys}" >"$work/cpu"
        fi
    done
    echo "$best"
}

# pad TEXT: TEXT left-aligned in 48 columns, counting characters, not bytes (→ is one).
pad() { printf "%s%*s" "$1" $((48 - ${#1})) ""; }

ratio() { awk "BEGIN{ if ($2 > 0) printf \"%.2f\", $1 / $2; else print \"-\" }"; }

report() { # name time baseline_time [other_name other_time]...
    local line name=$1 time=$2
    line=$(printf "%s %7.3f s  %6s× openssl" "$(pad "$name")" "$time" "$(ratio "$time" "$3")")
    shift 3
    while [ $# -ge 2 ]; do
        line+=$(printf "  %6s× %s" "$(ratio "$time" "$2")" "$1")
        shift 2
    done
    if [ -s "$work/rss" ]; then
        line+=$(printf "  max RSS %6.1f MiB  cpu %5.2f s" "$(awk "BEGIN{print $(cat "$work/rss")/1024}")" \
            "$(cat "$work/cpu")")
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

# The second limit: writing the same bytes durably (what every command that writes an
# archive or a layout must do before its rename). On a fast disk it is below the hash;
# on a slow one it is the floor of every writing command.
setup="rm -f '$work/dd.out'; sync"
t_write=$(best_of dd if="$work/big.bpf.o" of="$work/dd.out" bs=1M conv=fdatasync status=none)
setup=
rm -f "$work/dd.out"
report "dd conv=fdatasync (the durable-write limit)" "$t_write" "$t_openssl"
# pack → .tar needs every digest before the archive's first byte (index.json comes
# first, blobs in digest order), so its limit is the hash, then the write.
t_hash_write=$(awk "BEGIN{print $t_openssl + $t_write}")

rm -rf "$work/big-layout"
setup="rm -rf '$work/big-layout'; sync"
t_pack=$(best_of "$bin" pack "$work/big.bpf.o" -o "$work/big-layout")
setup=
report "pack → layout" "$t_pack" "$t_openssl" "dd" "$t_write"

t_verify=$(best_of "$bin" verify "$work/big-layout")
report "verify layout" "$t_verify" "$t_openssl"

t_inspect=$(best_of "$bin" inspect "$work/big-layout")
report "inspect (hash + parse the object)" "$t_inspect" "$t_openssl"

setup="rm -f '$work/skopeo.tar' '$work/big.tar' '$work/big2.tar'; rm -rf '$work/imported'; sync"
t_skopeo=$(best_of skopeo copy --quiet "oci:$work/big-layout:big" "oci-archive:$work/skopeo.tar:big")
report "skopeo copy oci: → oci-archive: (for scale)" "$t_skopeo" "$t_openssl"
t_copy_tar=$(best_of "$bin" copy "$work/big-layout" "$work/big.tar")
report "copy layout → .tar" "$t_copy_tar" "$t_openssl" "skopeo" "$t_skopeo" "dd" "$t_write"
t_pack_tar=$(best_of "$bin" pack "$work/big.bpf.o" -o "$work/big2.tar")
report "pack → .tar" "$t_pack_tar" "$t_openssl" "skopeo" "$t_skopeo" "(openssl+dd)" "$t_hash_write"
setup=
"$bin" copy "$work/big-layout" "$work/big.tar" >/dev/null
t_verify_tar=$(best_of "$bin" verify "$work/big.tar")
report "verify .tar" "$t_verify_tar" "$t_openssl"
setup="rm -rf '$work/imported'; sync"
t_copy_in=$(best_of "$bin" copy "$work/big.tar" "$work/imported")
setup=
report "copy .tar → layout" "$t_copy_in" "$t_openssl" "dd" "$t_write"
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
echo

# --- many names --------------------------------------------------------------------
# Two signed images under NAMES ref names (names on few manifests: what a long-lived
# bundle with a tag per build looks like), written straight into index.json.
echo "== ${names} names on 2 signed images (growth: time ÷ time with $((names / 4)) names; linear = 4.00) =="
# The names are in the signed repository, so that `verify --key NAME` accepts them.
repo=registry.local/ebpf/probe
rm -rf "$work/few"
"$bin" pack testdata/tp_counter.bpf.o testdata/xdp_count.bpf.o -o "$work/few" >/dev/null
EBPF_LAYOUT_PASSWORD= "$bin" keygen -o "$work/bench" >/dev/null 2>&1
EBPF_LAYOUT_PASSWORD= "$bin" sign "$work/few" --key "$work/bench.key" \
    --identity "$repo" >/dev/null
victim=$(jq -r '.manifests[0].digest' "$work/few/index.json")
# many_names N DIR: a copy of the signed layout with N names (the signatures kept).
many_names() {
    rm -rf "$2"
    cp -a "$work/few" "$2"
    jq -c --argjson n "$1" --arg repo "$repo" '
        [.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] | startswith("sha256-"))] as $sigs
        | [.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] | startswith("sha256-") | not)] as $imgs
        | .manifests = [range($n) as $i | $imgs[$i % ($imgs | length)] | del(.platform)
                        | .annotations = {"org.opencontainers.image.ref.name": "\($repo):v\($i)"}] + $sigs
    ' "$work/few/index.json" >"$2/index.json"
}
scale_report() { # name time time_with_a_quarter
    printf "%s %7.3f s  growth %5s×\n" "$(pad "$1")" "$2" "$(ratio "$2" "$3")"
}
declare -A quarter
for n in $((names / 4)) "$names"; do
    many_names "$n" "$work/names"
    last="$repo:v$((n - 1))"
    declare -A t=()
    t[list]=$(best_of "$bin" list "$work/names")
    t[verify]=$(best_of "$bin" verify "$work/names")
    t[inspect]=$(best_of "$bin" inspect "$work/names:$last")
    t[verify_key]=$(best_of "$bin" verify --key "$work/bench.pub" "$work/names:$last")
    setup="rm -rf '$work/names2'; cp -a '$work/names' '$work/names2'"
    t[tag]=$(best_of "$bin" tag "$work/names2:$last" probe:new)
    t[rm]=$(best_of "$bin" rm "$work/names2:$repo:v$((n / 2))")
    t[rm_digest]=$(best_of "$bin" rm "$work/names2@$victim")
    t[gc]=$(best_of "$bin" gc "$work/names2")
    t[sign]=$(best_of env EBPF_LAYOUT_PASSWORD= "$bin" sign "$work/names2:$last" \
        --key "$work/bench.key" --identity "$repo")
    setup="rm -rf '$work/names.tar' '$work/names-copy'"
    t[copy_tar]=$(best_of "$bin" copy "$work/names" "$work/names.tar")
    t[copy_layout]=$(best_of "$bin" copy "$work/names" "$work/names-copy")
    setup=
    if [ "$n" != "$names" ]; then
        for k in "${!t[@]}"; do quarter[$k]=${t[$k]}; done
        continue
    fi
    scale_report "list" "${t[list]}" "${quarter[list]}"
    scale_report "verify" "${t[verify]}" "${quarter[verify]}"
    scale_report "inspect NAME" "${t[inspect]}" "${quarter[inspect]}"
    scale_report "verify --key PUB NAME" "${t[verify_key]}" "${quarter[verify_key]}"
    scale_report "tag NAME NEW" "${t[tag]}" "${quarter[tag]}"
    scale_report "rm NAME" "${t[rm]}" "${quarter[rm]}"
    scale_report "rm @DIGEST ($((names / 2)) names, 1 signature)" "${t[rm_digest]}" "${quarter[rm_digest]}"
    scale_report "gc" "${t[gc]}" "${quarter[gc]}"
    scale_report "sign NAME" "${t[sign]}" "${quarter[sign]}"
    scale_report "copy → .tar (every name)" "${t[copy_tar]}" "${quarter[copy_tar]}"
    scale_report "copy → layout (every name)" "${t[copy_layout]}" "${quarter[copy_layout]}"
done
