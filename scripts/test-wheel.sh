#!/usr/bin/env bash
# The Python wheel that carries the keyhound binary (pyproject.toml, maturin `bindings = "bin"`): builds it with the
# documented command (maturin build --release --out DIR), installs it offline into a fresh virtual environment, and
# checks that the installed `keyhound` is Cargo.toml's version and finds the demo's keys as the README says
# (`keyhound scan fixtures/demo`: 11 findings, exit code 1). Everything goes into a temporary directory, removed at
# the end; the cargo build goes to CARGO_TARGET_DIR (default: target/).
#
# Needs Rust, Python 3 with pip and venv, and maturin (installed with pip when missing).
# Usage: scripts/test-wheel.sh        PYTHON=python3.12 scripts/test-wheel.sh
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
  echo "test-wheel: FAILED: $*" >&2
  exit 1
}
trap 'fail "command failed (exit code $?) at line $LINENO: $BASH_COMMAND"' ERR

python=${PYTHON:-python3}
command -v "$python" >/dev/null 2>&1 || fail "no $python on PATH (set PYTHON=...)"

work=$(mktemp -d "${TMPDIR:-/tmp}/keyhound-wheel.XXXXXX")
trap 'rm -rf "$work"' EXIT

if ! "$python" -m maturin --version >/dev/null 2>&1; then
  echo "maturin is missing: installing it with pip"
  "$python" -m pip install --quiet --disable-pip-version-check 'maturin>=1.7,<2' ||
    fail "could not install maturin ($python -m pip install 'maturin>=1.7,<2')"
fi
echo "using $("$python" -m maturin --version)"

expected=$(cargo metadata --no-deps --format-version 1 --locked |
  "$python" -c 'import json, sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "keyhound"))')
[ -n "$expected" ] || fail "could not read keyhound's version from Cargo.toml"

echo "building the wheel: maturin build --release --out DIR"
"$python" -m maturin build --release --out "$work/dist" || fail "maturin build failed"
shopt -s nullglob
wheels=("$work"/dist/keyhound_bin-*.whl)
shopt -u nullglob
[ "${#wheels[@]}" -eq 1 ] || fail "expected one keyhound-bin wheel in the output, found: $(ls -A "$work/dist")"
wheel=${wheels[0]}
case "$(basename "$wheel")" in
  "keyhound_bin-$expected-"*) ;;
  *) fail "the wheel $(basename "$wheel") is not version $expected (Cargo.toml)" ;;
esac
echo "built $(basename "$wheel") ($(du -h "$wheel" | cut -f1))"

echo "installing it offline into a fresh virtual environment"
"$python" -m venv "$work/venv" || fail "could not create a virtual environment ($python -m venv; on Debian: apt-get install python3-venv)"
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-index "$wheel" ||
  fail "pip could not install $(basename "$wheel") offline"
keyhound="$work/venv/bin/keyhound"
[ -x "$keyhound" ] || fail "the wheel installed no keyhound executable into the environment's bin/"

version=$("$keyhound" --version) || fail "keyhound --version failed"
[ "$version" = "keyhound $expected" ] || fail "keyhound --version printed '$version', expected 'keyhound $expected'"
echo "ok: $version"

status=0
"$keyhound" scan fixtures/demo >"$work/scan.out" 2>&1 || status=$?
if [ "$status" -ne 1 ] || ! grep -q "keyhound: 11 findings in " "$work/scan.out"; then
  tail -n 20 "$work/scan.out" >&2
  fail "keyhound scan fixtures/demo exited with $status and no '11 findings' (expected: 11 findings, exit code 1)"
fi
echo "ok: $(grep "keyhound: 11 findings in " "$work/scan.out")"

echo "test-wheel: the wheel works"
