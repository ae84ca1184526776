#!/usr/bin/env bash
# Installs what the kit needs on a fresh Debian/Ubuntu machine: the Debian packages of the
# local services (only when missing) and the Python venv. Idempotent and quiet when satisfied.
# `bootstrap.sh --python-only` skips the Debian packages (plan, lint and mock tests need none).
set -euo pipefail
cd "$(dirname "$0")/.."
python_only=0
[ "${1:-}" = "--python-only" ] && python_only=1

need_debs=()
[ -x /usr/lib/postgresql/15/bin/postgres ] || ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need_debs+=(postgresql)
command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || need_debs+=(pgbouncer)
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || need_debs+=(redis-server)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need_debs+=(nginx)
command -v dot >/dev/null 2>&1 || need_debs+=(graphviz)
command -v wrk >/dev/null 2>&1 || need_debs+=(wrk)  # make bench: the closed-loop load generator

if [ "$python_only" = "0" ] && [ ${#need_debs[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "quintet: missing ${need_debs[*]} and no apt-get here; install them with your package manager." >&2
    exit 1
  fi
  echo "quintet: installing Debian packages: ${need_debs[*]}"
  sudo_cmd=""
  [ "$(id -u)" = "0" ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need_debs[@]}" >/dev/null
  # Debian starts the packaged services; quintet runs its own on other ports, so stop them.
  for svc in postgresql pgbouncer redis-server nginx; do
    $sudo_cmd systemctl stop "$svc" >/dev/null 2>&1 || $sudo_cmd service "$svc" stop >/dev/null 2>&1 || true
  done
fi

PY=${PYTHON:-python3}
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
