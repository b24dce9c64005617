#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what is missing, then runs the
# format check, clippy, a build without the loader, the API docs, and every test.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
ensure_packages "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}" "${FUZZ_PACKAGES[@]}"
ensure_oras_venv
mount_kernel_fs

cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo build --no-default-features --locked
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --locked
cargo test --locked
cargo test --locked --features oci-spec --test tests oci_spec
# Each fuzz target for a short time (FUZZ_SECONDS, default 20): about 3 minutes plus one
# build of the fuzz crate, well inside CI's budget.
ensure_cargo_fuzz
run_fuzz_targets "${FUZZ_SECONDS:-20}"
