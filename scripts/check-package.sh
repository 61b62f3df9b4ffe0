#!/usr/bin/env bash
# What `cargo publish` would ship: the code, the built-in rules, the docs, the licences and the libgit2 patch
# notes; never tests, fixtures, benchmark scripts or CI files. Then `cargo publish --dry-run` builds the packaged
# crate the way crates.io will (from crates.io's libgit2-sys: `[patch]` does not reach it).
set -euo pipefail
cd "$(dirname "$0")/.."

listing=$(cargo package --list --allow-dirty --locked 2>/dev/null)
fail=0
for wanted in src/main.rs src/lib.rs rules/openai.toml rules/ai-providers.toml rules/ai-context.toml README.md \
    LICENSE-MIT LICENSE-APACHE Cargo.lock vendor/libgit2-sys-adaptive-mutexes.patch; do
  if ! grep -qx "$wanted" <<<"$listing"; then
    echo "check-package: $wanted is missing from the package" >&2
    fail=1
  fi
done
if unwanted=$(grep -E '^(tests|fixtures|scripts|\.ci|\.github|target|vendor/libgit2-sys)/' <<<"$listing"); then
  echo "check-package: the package holds files it does not need:" >&2
  echo "$unwanted" >&2
  fail=1
fi
[ "$fail" -eq 0 ] || exit 1
echo "check-package: $(wc -l <<<"$listing") files, rules and licences in, tests and fixtures out"

cargo publish --dry-run --locked --allow-dirty --quiet
echo "check-package: cargo publish --dry-run passed"
