#!/usr/bin/env bash
# Runs the scan for the GitHub Action (action.yml, step "Scan") and sets its `findings` output.
#
# On a pull request (scope `pr`, or `auto` on a pull_request event) it scans what the pull request's commits add
# (`keyhound git --since origin/BASE`); otherwise the whole history. actions/checkout fetches one commit unless
# told `fetch-depth: 0`: in such a shallow clone the pull request's earlier commits (a key added, then deleted)
# and the history are not there to scan, so the history is fetched first. A fetch that fails stops the step:
# a scan of one commit never passes for a scan of the history.
#
# Environment (set by action.yml from the inputs and the event):
#   SCOPE, BASELINE, EXTRA_ARGS, SARIF_FILE, FAIL_ON_SCAN_ERRORS   the inputs
#   BASE_REF, EVENT                  github.base_ref and github.event_name
#   GITHUB_OUTPUT                    the runner's own
# Exit code: 0 (clean or findings: the next step decides), keyhound's 2 or a failed fetch's code.
set -uo pipefail

sarif=${SARIF_FILE:-keyhound.sarif}
args=(git --format sarif --output "$sarif")

pull_request=false
if [ "${SCOPE:-auto}" = pr ] || { [ "${SCOPE:-auto}" = auto ] && [ "${EVENT:-}" = pull_request ]; }; then
  pull_request=true
fi

fetch=(git fetch --no-tags --quiet)
if [ "$(git rev-parse --is-shallow-repository 2>/dev/null)" = true ]; then
  echo "keyhound: the checkout is shallow; fetching the history first (set fetch-depth: 0 on actions/checkout to skip this)"
  fetch+=(--unshallow)
elif [ "$pull_request" = false ]; then
  fetch=()
fi
if [ "$pull_request" = true ]; then
  if [ -z "${BASE_REF:-}" ]; then
    echo "::error::keyhound: scope pr needs a pull_request event (github.base_ref is empty)"
    exit 2
  fi
  fetch+=(origin "$BASE_REF")
elif [ "${#fetch[@]}" -gt 0 ]; then
  fetch+=(origin)
fi
if [ "${#fetch[@]}" -gt 0 ]; then
  "${fetch[@]}" || {
    status=$?
    echo "::error::keyhound: '${fetch[*]}' failed (exit code $status): the history to scan is not there"
    exit "$status"
  }
fi

if [ "$pull_request" = true ]; then
  # keyhound.toml, its rules and the baseline come from the base branch: the pull request cannot switch its
  # own scan off.
  args+=(--since "origin/$BASE_REF")
fi
[ -n "${BASELINE:-}" ] && args+=(--baseline "$BASELINE")
[ "${FAIL_ON_SCAN_ERRORS:-true}" = true ] && args+=(--fail-on-scan-errors)
# Extra arguments are split on whitespace, as documented for the `args` input.
# shellcheck disable=SC2206
extra=(${EXTRA_ARGS:-})

keyhound "${args[@]}" "${extra[@]}"
status=$?
case "$status" in
  0) echo "findings=false" >> "${GITHUB_OUTPUT:?}" ;;
  1) echo "findings=true" >> "${GITHUB_OUTPUT:?}" ;;
  *) echo "::error::keyhound failed with exit code $status"; exit "$status" ;;
esac
