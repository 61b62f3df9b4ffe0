#!/usr/bin/env bash
# Puts keyhound on PATH for the GitHub Action (action.yml, step "Install keyhound").
#
# The action installs the release binary of its own version: the version in the action's Cargo.toml (the
# release tag is `v` + that version), when the action was pinned to that tag, or to the commit that tag names.
# The archive comes from that release, for this runner's platform, and must match the release's checksum
# file. keyhound is built from the action's source (cargo install) only when no release binary fits: a branch
# or other ref, no binary for this platform, no such release. A checksum mismatch, or a release whose archive is
# there without its checksum, fails the step: it never quietly turns into a build.
#
# Environment (set by action.yml; inputs never reach this script):
#   GITHUB_ACTION_PATH, RUNNER_TEMP, RUNNER_OS, RUNNER_ARCH, GITHUB_PATH   the runner's own
#   ACTION_REF, ACTION_REPOSITORY    github.action_ref and github.action_repository (empty for a local action)
#   SERVER_URL                       github.server_url
#   API_URL, GH_TOKEN                github.api_url and github.token, to see which commit a tag names
set -euo pipefail

action_path=${GITHUB_ACTION_PATH:?}
root=${RUNNER_TEMP:?}/keyhound
ref=${ACTION_REF:-}
repo=${ACTION_REPOSITORY:-}
server=${SERVER_URL:-https://github.com}
api=${API_URL:-https://api.github.com}

if command -v keyhound >/dev/null 2>&1; then
  echo "keyhound is already on PATH: $(command -v keyhound)"
  exit 0
fi

build_from_source() {
  echo "::notice title=keyhound::$1; building keyhound from source (cargo install, a few minutes)"
  cargo install --locked --path "$action_path" --root "$root"
  echo "$root/bin" >> "$GITHUB_PATH"
  exit 0
}

# Git Bash on Windows: RUNNER_TEMP is a Windows path (D:\a\_temp), which the MSYS tools below take in their own
# form. GITHUB_PATH gets the Windows form, as before.
unix_path() {
  if command -v cygpath >/dev/null 2>&1; then cygpath -u "$1"; else printf '%s\n' "$1"; fi
}

fail() {
  echo "::error title=keyhound::$1"
  exit 1
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d' ' -f1
  else
    fail "neither sha256sum nor shasum is installed: cannot verify the release archive"
  fi
}

# The version of this copy of the action: [package] version in its Cargo.toml.
version=$(awk '
  /^\[/ { in_package = ($0 == "[package]") }
  in_package && /^version *= *"/ { sub(/^version *= *"/, ""); sub(/".*/, ""); print; exit }
' "$action_path/Cargo.toml")
[ -n "$version" ] || build_from_source "no package version in $action_path/Cargo.toml"
tag="v$version"

[ -n "$repo" ] || build_from_source "the action's repository is unknown (a local action?)"
if [ "$ref" = "$tag" ]; then
  :
elif [[ $ref =~ ^[0-9a-f]{40}$ ]]; then
  # Pinned to a commit: the release binary is this source only if the tag names this very commit.
  auth=()
  [ -n "${GH_TOKEN:-}" ] && auth=(-H "Authorization: Bearer $GH_TOKEN")
  tag_commit=$(curl -fsSL --retry 3 ${auth[@]+"${auth[@]}"} -H "Accept: application/vnd.github.sha" \
    "$api/repos/$repo/commits/$tag" 2>/dev/null) || tag_commit=""
  [ "$tag_commit" = "$ref" ] ||
    build_from_source "the action is pinned to commit $ref, which is not release $tag (${tag_commit:-not found})"
else
  build_from_source "the action is used at '${ref:-?}', not at a release tag ($tag)"
fi

case "${RUNNER_OS:-}/${RUNNER_ARCH:-}" in
  Linux/X64) target=x86_64-unknown-linux-musl ;;
  Linux/ARM64) target=aarch64-unknown-linux-musl ;;
  macOS/X64) target=x86_64-apple-darwin ;;
  macOS/ARM64) target=aarch64-apple-darwin ;;
  Windows/X64) target=x86_64-pc-windows-msvc ;;
  *) build_from_source "no release binary for ${RUNNER_OS:-?}/${RUNNER_ARCH:-?}" ;;
esac
case "$target" in
  *-windows-*) archive="keyhound-$target.zip" exe=keyhound.exe ;;
  *) archive="keyhound-$target.tar.xz" exe=keyhound ;;
esac

base="$server/$repo/releases/download/$tag"
work=$(mktemp -d "$(unix_path "$RUNNER_TEMP")/keyhound-release.XXXXXX")
bin=$(unix_path "$root")/bin
echo "Downloading $base/$archive"
curl -fsSL --retry 3 -o "$work/$archive" "$base/$archive" ||
  build_from_source "release $tag has no $archive (or it could not be downloaded)"
curl -fsSL --retry 3 -o "$work/sha256.sum" "$base/sha256.sum" ||
  fail "release $tag has $archive but its checksum file sha256.sum could not be downloaded: not using an unverified binary"

# sha256.sum has one "HASH  NAME" (or "HASH *NAME") line per artifact.
expected=$(awk -v name="$archive" '{ file = $2; sub(/^\*/, "", file) } file == name { print $1; exit }' "$work/sha256.sum")
[ -n "$expected" ] || fail "release $tag's sha256.sum has no line for $archive: not using an unverified binary"
actual=$(sha256_of "$work/$archive")
if [ "$actual" != "$expected" ]; then
  fail "checksum mismatch for $archive of release $tag: expected $expected, got $actual. The download is not what was released; refusing to use it"
fi
echo "SHA-256 verified: $actual  $archive"

mkdir -p "$work/unpacked" "$bin"
case "$archive" in
  # Tarballs hold a directory named after the archive; zips hold the files at their root.
  *.tar.xz) tar -xJf "$work/$archive" -C "$work/unpacked" --strip-components=1 ;;
  *.zip)
    if command -v unzip >/dev/null 2>&1; then
      unzip -q "$work/$archive" -d "$work/unpacked"
    else
      7z x -bd -y -o"$work/unpacked" "$work/$archive" >/dev/null
    fi
    ;;
esac
[ -f "$work/unpacked/$exe" ] || fail "$archive of release $tag has no $exe"
cp "$work/unpacked/$exe" "$bin/$exe"
chmod +x "$bin/$exe"
rm -rf "$work"

installed=$("$bin/$exe" --version) || fail "the release binary does not run on this runner: $bin/$exe"
[ "$installed" = "keyhound $version" ] || fail "the release binary of $tag says '$installed'"
echo "Installed $installed ($target) from release $tag"
echo "$root/bin" >> "$GITHUB_PATH"
