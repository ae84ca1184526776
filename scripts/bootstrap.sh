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
# Exactly the lock, hash-checked: every package of the set is pinned in the lock with its hashes,
# and pip refuses anything else (a dependency missing from the lock or a file whose hash differs).
# QUINTET_LOCK picks the set (the deploy jobs install only requirements/kit.lock).
lock=${QUINTET_LOCK:-requirements/dev.lock}
if [ ! -f "$lock" ]; then
  echo "quintet: $lock is missing: run \`make lock\` (or check out the whole repository)." >&2
  exit 1
fi
# The marker holds the lock's own content hash: an edited lock (make lock, a Renovate pull
# request) reinstalls, an unchanged one does nothing.
stamp=.venv/.installed
sum=$(printf '%s\n' "$lock" | cat - "$lock" | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$sum" ]; then
  echo "quintet: installing $lock into .venv (hash-checked)"
  # This machine's pip config names local index folders that may be absent; pip warns about
  # each one. Keep everything else it says (pipefail keeps pip's own exit status).
  .venv/bin/python -m pip install -q --disable-pip-version-check --require-hashes -r "$lock" 2>&1 \
    | { grep -v '^WARNING: Location .* is ignored' || true; }
  # A package the lock no longer names leaves the venv too, so it holds exactly the lock.
  extra=$(.venv/bin/python scripts/lock.py --extraneous "$lock")
  if [ -n "$extra" ]; then
    # shellcheck disable=SC2086  # one package name per word
    .venv/bin/python -m pip uninstall -q -y $extra
  fi
  echo "$sum" > "$stamp"
fi
