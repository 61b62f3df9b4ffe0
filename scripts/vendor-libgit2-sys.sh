#!/usr/bin/env bash
# Makes vendor/libgit2-sys again: libgit2-sys as published on crates.io, checked against the checksum
# Cargo.lock had for it, with vendor/libgit2-sys-*.patch applied in name order. See vendor/README.md.
#
#   scripts/vendor-libgit2-sys.sh          replace vendor/libgit2-sys
#   scripts/vendor-libgit2-sys.sh --check  only say whether vendor/libgit2-sys is that copy
#
# To move to a new version: set VERSION and SHA256 (crates.io's checksum, as Cargo.lock shows it for the
# registry crate), run the script, fix any patch that no longer applies, and run the tests.
set -euo pipefail

VERSION="0.18.8+1.9.7"
SHA256="7f7c568b25d7489bc3fb2988ed69ab111d2944d2f5fec3d5c987fe545ea97b50"

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

curl --fail --silent --show-error --location --output "$WORK/crate.tar.gz" \
  "https://static.crates.io/crates/libgit2-sys/libgit2-sys-$VERSION.crate"
echo "$SHA256  $WORK/crate.tar.gz" | sha256sum --check --quiet
tar -xzf "$WORK/crate.tar.gz" -C "$WORK"
COPY="$WORK/libgit2-sys-$VERSION"
for patch in "$ROOT"/vendor/libgit2-sys-*.patch; do
  patch --quiet --directory "$COPY" --strip 1 < "$patch"
done

if [[ ${1:-} == --check ]]; then
  if diff -r "$COPY" "$ROOT/vendor/libgit2-sys" > "$WORK/diff"; then
    echo "vendor/libgit2-sys is libgit2-sys $VERSION with its patches"
  else
    cat "$WORK/diff" >&2
    echo "vendor/libgit2-sys differs from libgit2-sys $VERSION with its patches" >&2
    exit 1
  fi
else
  rm -rf "$ROOT/vendor/libgit2-sys"
  mv "$COPY" "$ROOT/vendor/libgit2-sys"
  echo "vendor/libgit2-sys: libgit2-sys $VERSION with its patches"
fi
