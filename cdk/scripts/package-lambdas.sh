#!/usr/bin/env bash
# Builds the seven Lambda bootstraps for arm64 (provided.al2023), synthesizes the CDK app on them,
# and prints each function's zipped size (the Lambda limit is 50 MB; purgeflow aims at 4 MB).
#
#   cdk/scripts/package-lambdas.sh                    # build all seven, synth, sizes
#   cdk/scripts/package-lambdas.sh report-failures    # rebuild only the named binaries
#   SKIP_BUILD=1 cdk/scripts/package-lambdas.sh       # synth and sizes of target/lambda as it is
#
# What it takes (CPU-heavy: fat LTO and codegen-units=1 from the workspace release profile, once
# per binary):
#   - cargo-lambda from PyPI into cdk/.venv (its wheel brings zig, used as the cross linker);
#   - the aarch64-unknown-linux-gnu Rust target;
#   - one `cargo lambda build --release --arm64` per binary with `--no-default-features` and only
#     the SDK feature it calls, so each bootstrap links one AWS SDK crate, not five.
# Deploy afterwards with: cd cdk && npx cdk deploy -c lambdaAssetDir=../target/lambda ...
set -euo pipefail

CARGO_LAMBDA_VERSION=1.9.2
# Placeholder account and explicit region: the synth here only checks the real assets.
ACCOUNT="${CDK_ACCOUNT:-123456789012}"
REGION="${CDK_REGION:-eu-west-1}"

cdk_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
repo_dir="$(cd "$cdk_dir/.." && pwd)"
asset_dir="${CARGO_TARGET_DIR:-$repo_dir/target}/lambda"

# binary -> the cargo features it needs (tasks/Cargo.toml [[bin]] required-features).
declare -A FEATURES=(
  [purge-trigger]=lambda,sfn,kms
  [validate-records]=lambda,dynamodb,kms
  [delete-objects]=lambda,s3
  [batch-paths]=lambda
  [invalidate-cache]=lambda,cloudfront,sqs
  [report-failures]=lambda,sns,kms
  [dispatch-invalidations]=lambda,cloudfront,sns,sqs,kms
)
BINARIES=(purge-trigger validate-records delete-objects batch-paths invalidate-cache report-failures dispatch-invalidations)

ensure_cargo_lambda() {
  if [[ -x "$cdk_dir/.venv/bin/cargo-lambda" ]] &&
    "$cdk_dir/.venv/bin/cargo-lambda" lambda --version 2>/dev/null | grep -q " $CARGO_LAMBDA_VERSION"; then
    return
  fi
  echo "installing cargo-lambda $CARGO_LAMBDA_VERSION (with zig) into cdk/.venv"
  [[ -x "$cdk_dir/.venv/bin/python" ]] || python3 -m venv "$cdk_dir/.venv"
  "$cdk_dir/.venv/bin/python" -m pip install --quiet --disable-pip-version-check "cargo-lambda==$CARGO_LAMBDA_VERSION"
}

build() {
  ensure_cargo_lambda
  # cargo-lambda finds zig on PATH (the ziglang wheel installs python-zig; cargo-lambda looks for
  # `python -m ziglang` too), so put the venv first.
  export PATH="$cdk_dir/.venv/bin:$PATH"
  rustup target add aarch64-unknown-linux-gnu
  cd "$repo_dir"
  local binary started
  for binary in "$@"; do
    if [[ -z "${FEATURES[$binary]:-}" ]]; then
      echo "unknown binary $binary; expected one of: ${BINARIES[*]}" >&2
      return 1
    fi
  done
  for binary in "$@"; do
    started=$SECONDS
    echo "=== building $binary (features ${FEATURES[$binary]})"
    cargo lambda build --release --arm64 --package purgeflow-tasks --bin "$binary" \
      --no-default-features --features "${FEATURES[$binary]}"
    echo "--- $binary built in $((SECONDS - started)) s"
  done
}

synth() {
  cd "$cdk_dir"
  [[ -d node_modules ]] || npm ci --no-audit --no-fund
  local out
  out="$(mktemp -d "${TMPDIR:-/tmp}/purgeflow-package.XXXXXX")"
  CDK_DISABLE_CLI_TELEMETRY=true AWS_EC2_METADATA_DISABLED=true AWS_REGION="$REGION" \
    npx --no-install cdk synth --quiet --no-notices --output "$out/cdk.out" \
    -c account="$ACCOUNT" -c region="$REGION" \
    -c lambdaAssetDir="$asset_dir" -c keyTemplate='{image_key}'
  rm -rf "$out"
  echo "synth ok with the real bootstraps from $asset_dir"
}

# Zips each bootstrap as the CDK asset upload does (deflate, best compression) and prints sizes.
sizes() {
  python3 - "$asset_dir" "${BINARIES[@]}" <<'PY'
import io, os, sys, zipfile
asset_dir, binaries = sys.argv[1], sys.argv[2:]
limit = 4 * 1024 * 1024
over = 0
print(f"{'function':<18} {'bootstrap':>12} {'zipped':>12}")
for name in binaries:
    path = os.path.join(asset_dir, name, "bootstrap")
    if not os.path.exists(path):
        print(f"{name:<18} missing: {path}")
        over += 1
        continue
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.write(path, "bootstrap")
    zipped = len(buffer.getvalue())
    flag = "" if zipped <= limit else "  over the 4 MB aim"
    over += zipped > limit
    print(f"{name:<18} {os.path.getsize(path):>12,} {zipped:>12,}{flag}")
sys.exit(1 if over else 0)
PY
}

if [[ "${SKIP_BUILD:-}" != 1 ]]; then
  if (($# > 0)); then
    build "$@"
  else
    build "${BINARIES[@]}"
  fi
fi
synth
sizes
