#!/usr/bin/env bash
# Runs every purgeflow test: formatting, clippy (-D warnings), the whole workspace's tests
# (unit, handler, property, ASL conformance, CLI, local integration against moto), the doc
# tests, the API docs (cargo doc, -D warnings) and the CDK app's checks.
#
# Usage: bash tests/all.sh        (from the repository root; CI runs exactly this)
#
# It installs what it needs: cargo-nextest when it is missing (falls back to `cargo test` if that
# install fails). The ASL conformance test reads ../shared/asl-conformance in place and says
# loudly when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo is not installed; install a Rust toolchain (rustup) first" >&2
  exit 1
fi

step "toolchain: $(cargo --version)"

if ! cargo nextest --version >/dev/null 2>&1; then
  step "installing cargo-nextest (not found)"
  cargo install --locked cargo-nextest || echo "warning: cargo-nextest could not be installed; using cargo test"
fi

if [ ! -d ../shared/asl-conformance ]; then
  echo "NOTE: ../shared/asl-conformance is absent: the ASL conformance test will report it as NOT checked."
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

if cargo nextest --version >/dev/null 2>&1; then
  step "cargo nextest run --workspace"
  cargo nextest run --workspace --locked --no-fail-fast
else
  step "cargo test --workspace"
  cargo test --workspace --locked --no-fail-fast
fi

# #10: a delete storm of 5,000 with two SIGKILLs of the runner, checked through the AWS APIs
# (the README's figures come from the same script at 100,000: bash tests/storm.sh).
step "delete storm: 5,000 deletes, purgeflow local killed twice (tests/storm.sh 5000 --dev)"
bash tests/storm.sh 5000 --dev

# #21: the README's `cargo install --path cli --locked` puts a working `purgeflow` on the PATH.
# Into a folder of its own instead of ~/.cargo/bin, with --debug so the dev build above is
# reused; after the tests, because it relinks target/debug/purgeflow, which they run.
step "cargo install --path cli --locked (--debug, into a temporary root)"
install_root="$(mktemp -d)"
cargo install --path cli --locked --debug --root "$install_root" --quiet
PATH="$install_root/bin:$PATH" purgeflow --version
rm -rf "$install_root"

step "doc tests"
cargo test --workspace --locked --doc

# Broken or private intra-doc links fail here rather than rot: the API docs are how a
# developer finds the plain functions behind each Lambda. Reuses the dependencies clippy checked.
step "cargo doc --workspace --no-deps (RUSTDOCFLAGS=-D warnings)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

# The CDK app: type check, node:test suite, cdk synth with cdk-nag, cfn-lint, asl-validator.
# Installs its npm packages and cfn-lint (into cdk/.venv) when they are missing.
step "CDK checks (cdk/scripts/test.sh)"
bash cdk/scripts/test.sh
