"""Beat: one process, schedule in the database, restarts that neither duplicate nor re-fire."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.celery.conftest import APP_DIR, Stack, wait_for

pytestmark = pytest.mark.services
ENTRIES = ("nightly-reconciliation", "nightly-cleanup")


def _entries(stack: Stack) -> list[tuple[str, str, int]]:
    return stack.sql(
        "SELECT name, task, total_run_count FROM django_celery_beat_periodictask "
        "WHERE name = ANY(%s) ORDER BY name", list(ENTRIES))


def test_beat_keeps_its_schedule_in_the_database_across_restarts(clean: Stack) -> None:
    for _ in range(2):  # start, stop, start again: the same rows, nothing fired
        beat = clean.start_beat()
        wait_for(lambda: len(_entries(clean)) == 2, 30, "beat to store its schedule", 0.2)
        time.sleep(1)
        assert beat.poll() is None
        clean.stop(beat)
    entries = _entries(clean)
    assert [name for name, _, _ in entries] == sorted(ENTRIES)
    assert all(runs == 0 for _, _, runs in entries)  # nightly: nothing due at a restart
    assert clean.broker().llen("low") == 0


def test_a_nightly_job_fired_twice_runs_once(clean: Stack) -> None:
    answer = clean.drive(action="maintenance", day="2030-01-01")
    assert answer["first"] is not None and answer["second"] is None
    assert clean.sql("SELECT count(*) FROM notifications_maintenancerun "
                     "WHERE job = 'reconcile' AND day = '2030-01-01'") == [(1,)]


def test_beat_keeps_a_heartbeat_its_liveness_probe_reads(clean: Stack, tmp_path) -> None:
    beat = clean.start_beat(tmp_dir=tmp_path)
    probe = [sys.executable, "-m", "config.worker_health", "--max-age", "3"]
    env = {**os.environ, "TMPDIR": str(tmp_path)}

    def probe_code() -> int:
        return subprocess.run(probe, cwd=APP_DIR, env=env, capture_output=True).returncode

    try:
        wait_for(lambda: (tmp_path / "quintet-worker-heartbeat").exists(), 30,
                 "beat's first heartbeat", 0.2)
        assert probe_code() == 0
        os.kill(beat.pid, signal.SIGSTOP)  # a stuck beat stops ticking
        try:
            wait_for(lambda: probe_code() == 1, 20, "the probe to see a stale heartbeat", 0.5)
        finally:
            os.kill(beat.pid, signal.SIGCONT)
        wait_for(lambda: probe_code() == 0, 20, "the heartbeat to resume", 0.5)
    finally:
        clean.stop(beat)
