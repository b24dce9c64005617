# Sourced by the other scripts: installs Debian packages that are missing.
# Usage: ensure_packages NAME...   (runs apt-get only when something is missing)

ensure_packages() {
    local missing=()
    local pkg
    for pkg in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
            missing+=("$pkg")
        fi
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        return 0
    fi
    echo "installing missing packages: ${missing[*]}" >&2
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        sudo="sudo"
    fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# What building the crate needs (libbpf-sys compiles libbpf: libelf and zlib headers;
# xz2 links liblzma for .btf.tar.xz inputs, or builds it from source without them).
BUILD_PACKAGES=(pkg-config zlib1g-dev libelf-dev liblzma-dev make)
# What the test suite drives for real. docker-registry is Distribution 2.8: the registry
# tests run its binary themselves (its systemd service plays no part); python3-venv makes
# the venv that holds oras-py (ensure_oras_venv).
TEST_PACKAGES=(skopeo umoci iproute2 bpftool util-linux iputils-ping openssl docker-registry python3-venv prometheus)
# What the fuzz step needs: libfuzzer-sys compiles libFuzzer (C++) with the cc crate.
FUZZ_PACKAGES=(g++)

# The fuzz targets in fuzz/ (cargo-fuzz), every one of which CI runs for a short time.
FUZZ_TARGETS=(index_manifest reference elf_inspect archive_read archive_three_readers bpfman_layer
    policy kernel_btf_input)

# cargo-fuzz, installed with cargo (crates.io) when missing.
ensure_cargo_fuzz() {
    if cargo fuzz --version >/dev/null 2>&1; then
        return 0
    fi
    echo "installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked --quiet
}

# Runs every fuzz target for SECONDS (default 20) each. RUSTC_BOOTSTRAP lets cargo-fuzz
# use this stable toolchain. A crash fails the run and leaves its input in
# fuzz/artifacts/TARGET/.
run_fuzz_targets() {
    local seconds="${1:-20}"
    local target
    for target in "${FUZZ_TARGETS[@]}"; do
        echo "fuzzing $target for ${seconds}s" >&2
        (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -O "$target" -- \
            -max_total_time="$seconds" -rss_limit_mb=1024)
    done
}

# oras-py (PyPI `oras`), which the registry tests drive, pinned, in the repository's
# .venv-test/ (ignored by git). Installs it from PyPI when it is missing.
ORAS_PY_VERSION=0.2.43
ensure_oras_venv() {
    local venv=.venv-test
    if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import oras.client" 2>/dev/null; then
        return 0
    fi
    echo "installing oras-py $ORAS_PY_VERSION into $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "oras==$ORAS_PY_VERSION"
}

# Mounts the kernel file systems that loading and attaching use, when running as root.
mount_kernel_fs() {
    [ "$(id -u)" -eq 0 ] || return 0
    mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf 2>/dev/null || true
    mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || true
}
