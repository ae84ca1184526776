"""Liveness of a Celery worker without loading Django or Celery: the heartbeat file's age.

The worker touches the file every CELERY_HEARTBEAT_SECONDS (5) from its consumer's timer, so
the file goes stale when the worker's event loop is stuck or it has lost the broker. Probe:

    python -m config.worker_health [--max-age SECONDS]     (exit 0 fresh, 1 stale or missing)

The file lives in the temp dir ($TMPDIR, else /tmp): one worker per container, /tmp writable.
Stdlib only, on purpose: a probe runs every few seconds.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

HEARTBEAT_FILE = "quintet-worker-heartbeat"
DEFAULT_MAX_AGE_SECONDS = 30.0


def heartbeat_path() -> Path:
    """Where this container's worker keeps its heartbeat."""
    return Path(tempfile.gettempdir()) / HEARTBEAT_FILE


def heartbeat_age(*, path: Path | None = None) -> float | None:
    """Seconds since the last beat, or None when there is no heartbeat file."""
    try:
        return max(0.0, time.time() - (path or heartbeat_path()).stat().st_mtime)
    except FileNotFoundError:
        return None


def main(argv: list[str] | None = None) -> int:
    """Exit 0 when the heartbeat is younger than --max-age, else print why and exit 1."""
    parser = argparse.ArgumentParser(prog="python -m config.worker_health")
    parser.add_argument("--max-age", type=float, default=DEFAULT_MAX_AGE_SECONDS)
    args = parser.parse_args(argv)
    age = heartbeat_age()
    if age is None:
        print(f"unhealthy: no heartbeat at {heartbeat_path()}", file=sys.stderr)
        return 1
    if age > args.max_age:
        print(f"unhealthy: last heartbeat {age:.1f}s ago (max {args.max_age}s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
