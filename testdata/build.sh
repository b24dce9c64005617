#!/usr/bin/env bash
# Rebuild every test object in testdata/ from testdata/src/.
#
#   bash testdata/build.sh          rebuild the objects in place and rewrite SHA256SUMS
#   bash testdata/build.sh --check  rebuild into a temp dir and compare with the
#                                   committed objects (exit 1 on any difference)
#
# Needs clang (BPF target), llvm-strip, gcc and the libbpf headers
# (<bpf/bpf_helpers.h>, Debian: libbpf-dev) plus the kernel UAPI headers
# (linux-libc-dev). CLANG, LLVM_STRIP and CC may be overridden from the
# environment. The build is meant to be byte-reproducible: same sources and
# same toolchain => same bytes (see README.md).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$here/src

CLANG=${CLANG:-clang}
LLVM_STRIP=${LLVM_STRIP:-llvm-strip}
CC=${CC:-gcc}

check=0
case "${1:-}" in
	"") ;;
	--check) check=1 ;;
	*) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

if [[ $check == 1 ]]; then
	out=$(mktemp -d)
	trap 'rm -rf "$out"' EXIT
else
	out=$here
fi
mkdir -p "$out/bpfeb" "$out/not-bpf"

# Objects built from the same sources must not depend on where the checkout
# lives or on the time of day: compile from inside src/ with relative file
# names, map the working directory away, and keep timestamps out.
export SOURCE_DATE_EPOCH=0
prefix_map=(-ffile-prefix-map="$src"=. -fdebug-prefix-map="$src"=.)

BPF_CFLAGS=(-O2 -g -D__TARGET_ARCH_x86 -I"/usr/include/$(uname -m)-linux-gnu"
	-Wall -Werror "${prefix_map[@]}")

bpf_objs=(tp_counter ringbuf_events xdp_count multi_prog verifier_reject legacy_maps
	tc_count perf_events configurable probes pinned_by_name kprobes alternatives
	tracing core_tgid perf_sample)

# bpf_build TARGET SRC OUT
bpf_build() {
	local target=$1 in=$2 dst=$3
	(cd "$src" && "$CLANG" -target "$target" "${BPF_CFLAGS[@]}" -c "$in" -o "$dst")
	# Drop DWARF (.debug_*): it only carries build paths and sizes. .BTF and
	# .BTF.ext are not debug sections and are kept; libbpf needs them.
	"$LLVM_STRIP" --strip-debug "$dst"
}

for name in "${bpf_objs[@]}"; do
	bpf_build bpf "$name.bpf.c" "$out/$name.bpf.o"
done
bpf_build bpfeb tp_counter.bpf.c "$out/bpfeb/tp_counter.bpfeb.o"

# A plain host (x86-64 on x86-64 hosts) relocatable object: not BPF.
(cd "$src" && "$CC" -O2 "${prefix_map[@]}" -c hello.c -o "$out/not-bpf/hello.o")

cd "$out"
objects=(*.bpf.o bpfeb/*.o not-bpf/hello.o)

if [[ $check == 1 ]]; then
	status=0
	for f in "${objects[@]}"; do
		if cmp -s "$f" "$here/$f"; then
			echo "same     $f"
		else
			echo "DIFFERS  $f"
			status=1
		fi
	done
	exit $status
fi

sha256sum "${objects[@]}" > SHA256SUMS
cat SHA256SUMS
echo "built with: $("$CLANG" --version | head -n1); $("$CC" --version | head -n1)"
