#!/usr/bin/env bash
# Builds the repository of the pre-commit benchmark (scripts/bench.sh staged): DIRS directories of FILES small
# text files in all (default 40 and 4,000), one commit, packed with `git gc` (or left loose with --loose), then
# three files changed and staged, one of them a new file. No secret is planted: the figure is the cost of a
# clean staged scan, the common case of a pre-commit hook.
#
#   scripts/bench/make_staged_repo.sh DEST [--files N] [--dirs N] [--loose]
set -euo pipefail
DEST=${1:?usage: make_staged_repo.sh DEST [--files N] [--dirs N] [--loose]}
shift
FILES=4000 DIRS=40 LOOSE=0
while (($#)); do
  case "$1" in
    --files) FILES=$2; shift 2 ;;
    --dirs) DIRS=$2; shift 2 ;;
    --loose) LOOSE=1; shift ;;
    *) echo "make_staged_repo.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done
[[ -e $DEST ]] && { echo "make_staged_repo.sh: $DEST exists" >&2; exit 2; }
mkdir -p "$DEST"
cd "$DEST"
git init -q -b main .
git config user.name bench
git config user.email bench@example.invalid
per_dir=$(((FILES + DIRS - 1) / DIRS))
for ((d = 0; d < DIRS; d++)); do
  mkdir -p "dir$d"
  for ((f = 0; f < per_dir && d * per_dir + f < FILES; f++)); do
    printf '// file %d of directory %d\nfn f%d() -> u32 {\n    let api_base = "https://example.invalid/v1";\n    %d\n}\n' \
      "$f" "$d" "$f" "$((d * per_dir + f))" >"dir$d/file$f.rs"
  done
done
git add -A
git commit -q -m "initial: $FILES files in $DIRS directories"
if ((LOOSE == 0)); then git gc -q; fi
# The staged change: two modified files and a new one.
printf 'let token = std::env::var("OPENAI_API_KEY");\n' >>dir0/file0.rs
printf '// changed\n' >>"dir$((DIRS / 2))/file1.rs"
printf 'fn added() {}\n' >"dir$((DIRS - 1))/new.rs"
git add dir0/file0.rs "dir$((DIRS / 2))/file1.rs" "dir$((DIRS - 1))/new.rs"
