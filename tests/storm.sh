#!/usr/bin/env bash
# A delete storm against the local endpoint (moto): N deletes purged by `purgeflow local`,
# SIGKILLed twice mid-run and restarted, then checked through the AWS APIs
# (tests/src/bin/storm.rs says what is checked and measured).
#
#   bash tests/storm.sh            # 100,000 deletes, release build (the README's figures)
#   bash tests/storm.sh 5000 --dev # 5,000 deletes, dev build: what tests/all.sh (CI) runs
#
# moto is installed into .venv/moto on first use, as for the local_* tests.
set -euo pipefail
cd "$(dirname "$0")/.."

deletes="${1:-100000}"
profile=release
if [[ "${2:-}" == "--dev" ]]; then
  profile=dev
fi
flags=(--locked)
[[ "$profile" == release ]] && flags+=(--release)

cargo build "${flags[@]}" -p purgeflow-cli --bin purgeflow
target_dir="${CARGO_TARGET_DIR:-target}"
[[ "$profile" == release ]] && out="$target_dir/release" || out="$target_dir/debug"
cargo run "${flags[@]}" -p purgeflow-tests --bin storm -- \
  --deletes "$deletes" --kills 2 --purgeflow "$out/purgeflow"
