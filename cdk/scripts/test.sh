#!/usr/bin/env bash
# The CDK app's checks, as CI and tests/all.sh run them. Needs no AWS account and no credentials:
#   1. npm ci, when node_modules is missing or older than package-lock.json
#   2. tsc --noEmit: the app and tests type-check
#   3. the node:test suite (node --import tsx --test): assertions on the synthesized template
#   4. cdk synth, with cdk-nag's AwsSolutions checks (bin/app.ts): any unacknowledged finding fails
#   5. cfn-lint on the synthesized template (cdk/.venv, pinned; ignores in cdk/.cfnlintrc.yaml)
#   6. asl-validator --json-path on statemachine/purge.asl.json
# Every step runs even when an earlier one failed; the last line is "cdk: N passed, N failed"
# and the exit status is non-zero when anything failed.
set -uo pipefail

CFN_LINT_VERSION=1.58.0
# A placeholder account and an explicit region: synth must not look for credentials, and the CLI
# would otherwise default the region to us-east-1.
ACCOUNT=123456789012
REGION=eu-west-1

cdk_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
repo_dir="$(cd "$cdk_dir/.." && pwd)"
cd "$cdk_dir" || exit 1

work="$(mktemp -d "${TMPDIR:-/tmp}/purgeflow-cdk-test.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# No network beyond package registries: no telemetry, no notices, no version check, no IMDS.
export CDK_DISABLE_CLI_TELEMETRY=true CDK_DISABLE_VERSION_CHECK=true AWS_EC2_METADATA_DISABLED=true
export AWS_REGION="$REGION" AWS_DEFAULT_REGION="$REGION"

passed=0
failed=0
failures=()

# run NAME COMMAND...: runs one check, prints its output, and counts it.
run() {
  local name="$1"
  shift
  echo "=== $name"
  if "$@"; then
    echo "--- ok: $name"
    passed=$((passed + 1))
  else
    echo "--- FAILED: $name"
    failed=$((failed + 1))
    failures+=("$name")
  fi
}

install_node_modules() {
  if [[ -f node_modules/.package-lock.json && node_modules/.package-lock.json -nt package-lock.json ]]; then
    echo "node_modules is up to date with package-lock.json"
    return 0
  fi
  echo "node_modules is missing or older than package-lock.json: running npm ci"
  npm ci --no-audit --no-fund
}

# A tiny executable `bootstrap` per function, laid out like `cargo lambda build` output: synth
# only packages the assets, so no Rust build is needed.
make_dummy_assets() {
  local name
  for name in purge-trigger validate-records delete-objects batch-paths invalidate-cache report-failures dispatch-invalidations; do
    mkdir -p "$work/lambda/$name"
    printf '#!/bin/sh\nexit 0\n' >"$work/lambda/$name/bootstrap"
    chmod +x "$work/lambda/$name/bootstrap"
  done
}

synth() {
  make_dummy_assets
  npx --no-install cdk synth --quiet --no-notices --no-version-reporting \
    --output "$work/cdk.out" \
    -c account="$ACCOUNT" -c region="$REGION" \
    -c lambdaAssetDir="$work/lambda" -c keyTemplate='{image_key}' -c keyPrefix=images/
}

install_cfn_lint() {
  if [[ -x .venv/bin/cfn-lint ]] && [[ "$(.venv/bin/cfn-lint --version 2>/dev/null)" == "cfn-lint $CFN_LINT_VERSION" ]]; then
    return 0
  fi
  echo "cfn-lint $CFN_LINT_VERSION is not installed in cdk/.venv: installing it"
  [[ -x .venv/bin/python ]] || python3 -m venv .venv || return 1
  .venv/bin/python -m pip install --quiet --disable-pip-version-check "cfn-lint==$CFN_LINT_VERSION"
}

cfn_lint() {
  local template="$work/cdk.out/PurgeFlow.template.json"
  if [[ ! -f "$template" ]]; then
    echo "no synthesized template at $template (synth failed above)"
    return 1
  fi
  install_cfn_lint || return 1
  # --regions: the synth region, so region-specific checks (runtimes, instance types) apply.
  .venv/bin/cfn-lint --regions "$REGION" --config-file .cfnlintrc.yaml -- "$template" && echo "cfn-lint: no findings"
}

asl_validator() {
  # --json-path, never --json-definition: the latter takes a JSON string, and given a path it
  # prints "Unable to parse" and exits 0 (test/asl-validator.test.ts pins that pitfall).
  npx --no-install asl-validator --json-path "$repo_dir/statemachine/purge.asl.json"
}

run "npm ci" install_node_modules
run "tsc --noEmit" npx --no-install tsc --noEmit -p tsconfig.json
run "node:test suite" node --import tsx --test test/*.test.ts
run "cdk synth + cdk-nag AwsSolutions" synth
run "cfn-lint $CFN_LINT_VERSION" cfn_lint
run "asl-validator --json-path" asl_validator

if ((failed > 0)); then
  printf 'failed: %s\n' "${failures[@]}"
fi
echo "cdk: $passed passed, $failed failed"
((failed == 0))
