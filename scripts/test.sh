#!/usr/bin/env bash
# Runs every test of mesh402 on a fresh machine: installs what the tests need beyond the Rust toolchain
# (the pinned JavaScript tools in tests/js), checks formatting and lints, then runs the whole test suite.
# Nothing is skipped because a tool is missing: a missing tool fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "test.sh: '$1' is required but not installed" >&2; exit 1; }
}
need cargo
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "test.sh: installing Node.js and npm (needed for the third-party L402 client and the glTF validator)"
  apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
fi
need node
need npm

echo "==> JavaScript test tools (pinned by tests/js/package-lock.json)"
npm ci --prefix tests/js --no-audit --no-fund --loglevel=error

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "==> cargo test"
cargo test --workspace --locked
