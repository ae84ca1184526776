"""Beat: one process, schedule in the database, restarts that neither duplicate nor re-fire."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psycopg
import pytest

from tests.celery.conftest import APP_DIR, ROOT, Stack, wait_for

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


def _drive_async(stack: Stack, **command: object) -> subprocess.Popen[str]:
    # As in the low worker that runs the nightly jobs: its pool's statement_timeout (360 s), so
    # a firing waiting on the held lock is not cancelled by the web's 5 s while the other starts.
    env = {**stack.env, "PYTHONPATH": f"{APP_DIR}{os.pathsep}{ROOT}",
           "DATABASE_URL": stack.services.worker_database_url("low")}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.celery.driver", json.dumps(command)], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _lock_waiters(stack: Stack) -> int:
    return stack.sql("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                     "WHERE NOT l.granted AND c.relname = 'notifications_emaildelivery'")[0][0]


def test_two_concurrent_firings_of_a_nightly_job_run_it_once(clean: Stack) -> None:
    day = "2031-02-03"
    # Hold the table the job reads, so a firing that got past the guard waits inside the job.
    with psycopg.connect(clean.services.direct_primary_url) as holder:
        holder.execute("LOCK TABLE notifications_emaildelivery IN ACCESS EXCLUSIVE MODE")
        firings = [_drive_async(clean, action="reconcile", day=day) for _ in range(2)]

        def settled() -> bool:
            exited = sum(f.poll() is not None for f in firings)
            waiting = _lock_waiters(clean)
            # With a lock: one firing waits in the job, the other has returned. Without: both
            # wait in the job.
            return exited == 2 or (waiting + exited == 2 and waiting >= 1)

        wait_for(settled, 120, "one firing inside the job and the other decided", 0.1)
        holder.commit()  # release: the firing(s) inside the job finish
    answers = []
    for firing in firings:
        out, err = firing.communicate(timeout=60)
        assert firing.returncode == 0, err[-3000:]
        answers.append(json.loads(out.strip().splitlines()[-1])["result"])
    ran = [a for a in answers if a is not None]
    assert len(ran) == 1, answers
    assert clean.sql("SELECT count(*) FROM notifications_maintenancerun WHERE job = 'reconcile' "
                     "AND day = %s AND finished_at IS NOT NULL", day) == [(1,)]
