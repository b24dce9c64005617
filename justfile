# Everyday tasks. `just ci` is exactly what CI runs.

default:
    @just --list

# Build the binary (release).
build:
    cargo build --release

# The whole test suite (installs missing system packages first).
test:
    bash scripts/test.sh

# Format check and clippy.
lint:
    cargo fmt --all -- --check
    cargo clippy --all-targets -- -D warnings

# Format the code.
fmt:
    cargo fmt --all

# Rebuild the BPF test objects from testdata/src (needs clang and libbpf-dev).
testdata:
    bash -c '. scripts/deps.sh && ensure_packages clang llvm libbpf-dev linux-libc-dev gcc && bash testdata/build.sh'

# Check that the committed test objects are what the recipe builds.
testdata-check:
    bash -c '. scripts/deps.sh && ensure_packages clang llvm libbpf-dev linux-libc-dev gcc && bash testdata/build.sh --check'

# Run each fuzz target for SECONDS (cargo-fuzz; RUSTC_BOOTSTRAP lets it use this stable toolchain).
fuzz SECONDS="60":
    bash -c '. scripts/deps.sh && ensure_cargo_fuzz && run_fuzz_targets {{SECONDS}}'

# Pack, list, inspect and verify the bundled example.
demo:
    bash scripts/demo.sh

# What CI runs.
ci:
    bash .ci/run
