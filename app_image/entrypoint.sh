#!/usr/bin/env bash
# The image's process types: the only place their command lines live. The Kubernetes builders
# and the local runner launch exactly these. Each validates the environment contract first
# (one clear message, exit 2) and then execs exactly one process.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-config.settings.production}"
PYTHON="${PYTHON:-python}"

usage() {
  cat >&2 <<'USAGE'
usage: entrypoint.sh <process type>
  web              uvicorn (ASGI) serving the app on $HOST:$PORT with $WEB_CONCURRENCY workers
  worker <queues>  Celery worker consuming the comma-separated queues
  beat             Celery beat (run exactly one)
  relay            the outbox relay: publishes committed task messages to the broker
  flower           Flower (queue visibility) on $HOST:$PORT, behind $FLOWER_BASIC_AUTH
  bootstrap        create or update the database roles (app, migrations, read-only) as master
  migrate          apply database migrations to the primary (as the migrations role)
  check            Django's deployment checks (manage.py check --deploy)
USAGE
}

preflight() {
  "$PYTHON" -m config.env
}

metrics_dir() {
  # prometheus-client's multiprocess mode: every process of this container (uvicorn workers,
  # prefork children) writes its samples here and the metrics port sums them. Emptied at start:
  # files of a previous container's pids would be counted again.
  export PROMETHEUS_MULTIPROC_DIR="${TMPDIR:-/tmp}/quintet-metrics"
  rm -rf "$PROMETHEUS_MULTIPROC_DIR"
  mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
}

case "${1:-}" in
  web)
    preflight
    metrics_dir
    # keep-alive 65 s > the ALB's 60 s idle timeout, or the ALB reuses closed sockets (502s).
    # X-Forwarded-For/-Proto are believed only from FORWARDED_ALLOW_IPS (the load balancer's
    # subnets; loopback locally): from anyone else they would let a client pick its address.
    exec "$PYTHON" -m uvicorn config.asgi:application \
      --host "${HOST:-0.0.0.0}" --port "${PORT:-8000}" --workers "${WEB_CONCURRENCY:-2}" \
      --timeout-keep-alive 65 --timeout-graceful-shutdown 25 \
      --proxy-headers --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-127.0.0.1}" --lifespan off --no-server-header
    ;;
  worker)
    queues="${2:?usage: entrypoint.sh worker <queues>}"
    preflight
    metrics_dir
    # Settings (config/settings/celery.py) carry concurrency, prefetch 1, late acks and limits.
    # The node name names the queues, so logs and `celery inspect` say which pool is which.
    exec "$PYTHON" -m celery -A config.celery_app worker -Q "$queues" -n "${queues//,/-}@%h" \
      --pool prefork --loglevel "${LOG_LEVEL:-INFO}" --without-mingle --without-gossip
    ;;
  beat)
    preflight
    metrics_dir
    # Exactly one beat. Its schedule lives in the database (DatabaseScheduler), so nothing is
    # written to the read-only root file system (no schedule file, no pid file).
    exec "$PYTHON" -m celery -A config.celery_app beat --loglevel "${LOG_LEVEL:-INFO}" \
      --scheduler config.beat_scheduler:HeartbeatDatabaseScheduler --pidfile=
    ;;
  relay)
    preflight
    metrics_dir
    # Publishes the transactional outbox (core/relay.py). Batches are claimed with
    # FOR UPDATE SKIP LOCKED, so a second replica is safe; one is enough.
    exec "$PYTHON" manage.py outbox_relay
    ;;
  flower)
    preflight
    # Never open: Flower reads FLOWER_BASIC_AUTH (user:password) from the environment itself,
    # so the password is not on the command line either.
    if [[ ! "${FLOWER_BASIC_AUTH:-}" =~ ^[^:]+:.+$ ]]; then
      echo "flower needs FLOWER_BASIC_AUTH=user:password (it never runs without authentication)" >&2
      exit 2
    fi
    exec "$PYTHON" -m celery -A config.celery_app flower --address="${HOST:-0.0.0.0}" \
      --port="${PORT:-5555}" --purge_offline_workers=300
    ;;
  bootstrap)
    preflight
    # The only process that gets DATABASE_MASTER_URL (core/db_roles.py).
    exec "$PYTHON" manage.py db_bootstrap
    ;;
  migrate)
    preflight
    # Migrations log in as the role that owns the schema; the app role may not change it, so
    # without that role's URL a schema change fails on "must be owner of table".
    if [[ -z "${DATABASE_MIGRATE_URL:-}" ]]; then
      echo "migrate needs DATABASE_MIGRATE_URL (the migrations role, which owns the schema;" \
        "entrypoint.sh bootstrap creates it)" >&2
      exit 2
    fi
    export DATABASE_URL="$DATABASE_MIGRATE_URL"
    # Retries when the migrations role's lock_timeout expires (migrate_with_retry says why).
    exec "$PYTHON" manage.py migrate_with_retry
    ;;
  check)
    preflight
    exec "$PYTHON" manage.py check --deploy --fail-level WARNING
    ;;
  *)
    usage
    exit 2
    ;;
esac
