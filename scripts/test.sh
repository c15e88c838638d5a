#!/usr/bin/env bash
# Runs every test of mesh402 on a fresh machine: installs what the tests need beyond the Rust toolchain
# (the pinned JavaScript tools in tests/js, LNbits for the Lightning backend tests, the MCP Python SDK, the
# OpenAPI validator and schemathesis, moto as the S3 server, promtool), checks formatting and lints, then runs
# the whole test suite.
# Nothing is skipped because a tool is missing: a missing tool fails the run (MESH402_TEST_TOOLS=1 below).
set -euo pipefail
cd "$(dirname "$0")/.."

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "test.sh: '$1' is required but not installed" >&2; exit 1; }
}
need cargo
# The load tests hold thousands of connections (both ends in one process): take the open-file limit the machine
# allows, as a server's service manager would.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "test.sh: installing Node.js and npm (needed for the third-party L402 client and the glTF validator)"
  apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
fi
need node
need npm
if ! command -v chromium >/dev/null 2>&1; then
  echo "test.sh: installing Debian's chromium (the web page's browser test drives it headless with playwright-core)"
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
need chromium
if ! command -v blender >/dev/null 2>&1 || ! python3 -c 'import numpy' 2>/dev/null; then
  echo "test.sh: installing Debian's blender and numpy (the model format tests import each format into Blender)"
  apt-get update -qq && apt-get install -y -qq --no-install-recommends blender python3-numpy >/dev/null
fi
need blender

echo "==> JavaScript test tools (pinned by tests/js/package-lock.json)"
npm ci --prefix tests/js --no-audit --no-fund --loglevel=error

echo "==> LNbits (a real Lightning wallet server for the backend tests), pinned, in target/lnbits-venv"
# LNbits needs Python 3.10-3.12; bolt11 (its dependency) breaks with bitstring 5, hence the pin.
LNBITS_VERSION=1.6.2
LNBITS_VENV="$PWD/target/lnbits-venv"
if [ "$(cat "$LNBITS_VENV/.installed" 2>/dev/null)" != "$LNBITS_VERSION" ]; then
  python=""
  for candidate in python3.12 python3.11 python3.10 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(0 if (3, 10) <= sys.version_info[:2] <= (3, 12) else 1)' 2>/dev/null &&
      "$candidate" -c 'import venv' 2>/dev/null; then
      python="$candidate"
      break
    fi
  done
  [ -n "$python" ] || { echo "test.sh: LNbits needs Python 3.10-3.12 with venv (apt-get install python3-venv)" >&2; exit 1; }
  rm -rf "$LNBITS_VENV"
  "$python" -m venv "$LNBITS_VENV"
  "$LNBITS_VENV/bin/pip" install --quiet --disable-pip-version-check "lnbits==$LNBITS_VERSION" "bitstring==4.4.0"
  echo "$LNBITS_VERSION" >"$LNBITS_VENV/.installed"
fi
export MESH402_TEST_LNBITS="$LNBITS_VENV/bin/lnbits"
[ -x "$MESH402_TEST_LNBITS" ] || { echo "test.sh: $MESH402_TEST_LNBITS is missing; remove $LNBITS_VENV and rerun" >&2; exit 1; }

# Tests that drive tools beyond cargo (LNbits, PostgreSQL, moto, Node.js and the JavaScript tools, Chromium, the
# Python SDKs, promtool) are #[ignore]d for someone who runs `cargo test` on a crate alone; here they run
# (--include-ignored below), and a missing tool fails them. The variable makes the generator's glTF-Validator
# check refuse its Rust stand-in.
export MESH402_TEST_TOOLS=1

# Makes (or keeps) the Python environment $1 holding exactly the pinned packages given after it; the list is the
# marker, so changing a pin reinstalls.
pinned_venv() {
  local venv="$1"
  shift
  if [ "$(cat "$venv/.installed" 2>/dev/null)" != "$*" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$@"
    echo "$*" >"$venv/.installed"
  fi
}

echo "==> The MCP Python SDK (an independent MCP client for the mcp tests), pinned, in target/mcp-venv"
pinned_venv "$PWD/target/mcp-venv" "mcp==1.30.0"
export MESH402_TEST_MCP_PYTHON="$PWD/target/mcp-venv/bin/python"

echo "==> OpenAPI tools (openapi-spec-validator, schemathesis), pinned, in target/openapi-venv"
pinned_venv "$PWD/target/openapi-venv" "openapi-spec-validator==0.9.0" "schemathesis==4.32.5"
export MESH402_TEST_OPENAPI_BIN="$PWD/target/openapi-venv/bin"

echo "==> plyfile (an independent PLY reader for the model format tests), pinned, in target/plyfile-venv"
pinned_venv "$PWD/target/plyfile-venv" "plyfile==1.1" "numpy==2.4.6"
export MESH402_TEST_PLYFILE_PYTHON="$PWD/target/plyfile-venv/bin/python"

echo "==> lib3mf (the 3MF Consortium's reference reader, for the 3MF tests), pinned, in target/lib3mf-venv"
pinned_venv "$PWD/target/lib3mf-venv" "lib3mf==2.5.0"
export MESH402_TEST_LIB3MF_PYTHON="$PWD/target/lib3mf-venv/bin/python"

echo "==> usd-core (Pixar's USD library and its ARKit compliance checker, for the USDZ tests), pinned, in target/usd-venv"
# 25.11: the last release with UsdUtils.ComplianceChecker (26.x replaced it with the UsdValidation framework).
pinned_venv "$PWD/target/usd-venv" "usd-core==25.11"
export MESH402_TEST_USD_PYTHON="$PWD/target/usd-venv/bin/python"

echo "==> moto (a real S3-compatible server for the object storage tests), pinned, in target/moto-venv"
pinned_venv "$PWD/target/moto-venv" "moto[server]==5.1.18"
export MESH402_TEST_MOTO_SERVER="$PWD/target/moto-venv/bin/moto_server"

if ! command -v promtool >/dev/null 2>&1; then
  echo "test.sh: installing Debian's prometheus (the metrics test checks /metrics with promtool)"
  apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
need promtool

# PostgreSQL for the job store story and the deployment test (each test makes a schema of its own in it).
export MESH402_TEST_POSTGRES_URL="${MESH402_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
# The database-restart test makes a PostgreSQL cluster of its own (initdb, pg_ctl from pg_config --bindir).
need pg_config

echo "==> cargo fmt --check"
cargo fmt --all -- --check

# Two feature sets: the default build (`cargo run --release -- serve`: SQLite, local files, the development wallet,
# LNbits, the embedded generator) and every optional backend (`--all-features`; README.md lists them).
echo "==> cargo clippy -D warnings (default features, then all features)"
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

# The crates whose build depends on the features run their tests in the default build too (a backend left out
# must leave the rest working); the others are the same in both builds and run once, below.
echo "==> cargo test, default features"
cargo test --locked -p mesh402-ln -p mesh402-store -p mesh402-client -p mesh402-testkit -p mesh402-server -p mesh402

echo "==> cargo test, all features (with the tests that need the tools above, which plain cargo test lists as ignored)"
cargo test --workspace --all-features --locked -- --include-ignored
