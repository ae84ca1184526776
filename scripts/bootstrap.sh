#!/usr/bin/env bash
# Installs what the kit needs on a fresh Debian/Ubuntu machine: the Debian packages of the
# local services (only when missing; any PostgreSQL major) and the Python venv. Idempotent
# and quiet when satisfied.
# `bootstrap.sh --python-only` skips the Debian packages (plan, lint and mock tests need none).
set -euo pipefail
cd "$(dirname "$0")/.."
python_only=0
[ "${1:-}" = "--python-only" ] && python_only=1

PY=${PYTHON:-python3}
# Debian packages of the local services, only when missing (local/packages.py: stdlib only).
# Without root or sudo it prints one line naming the packages and the command, and stops.
if [ "$python_only" = "0" ]; then
  "$PY" -m local.packages
fi

if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.installed
reqs=(requirements/kit.txt requirements/dev.txt)
[ -f app_image/requirements.txt ] && reqs+=(app_image/requirements.txt)
sum=$(cat "${reqs[@]}" | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$sum" ]; then
  echo "quintet: installing Python packages into .venv"
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null 2>&1
  args=()
  for r in "${reqs[@]}"; do args+=(-r "$r"); done
  # This machine's pip config names local index folders that may be absent; pip warns about
  # each one. Keep everything else it says (pipefail keeps pip's own exit status).
  .venv/bin/python -m pip install -q --disable-pip-version-check "${args[@]}" 2>&1 \
    | { grep -v '^WARNING: Location .* is ignored' || true; }
  echo "$sum" > "$stamp"
fi
