"""The alerting rules under `promtool test rules`: each alert fires on synthetic series that break
its SLO and stays quiet on series that keep it. Also `promtool check rules` on the rule file.

The cases are data; each becomes one promtool test group (1-minute samples, the rule file the
cluster and `make up` both load).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from k8s.alerts import alert_rules, rule_groups

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
pytestmark = pytest.mark.skipif(not Path(PROMTOOL).exists(),
                                reason="promtool (Debian package prometheus) is not installed")


@dataclass(frozen=True)
class Case:
    """Series that should (or should not) make `alert` fire at `at`."""

    alert: str
    fires: bool
    series: dict[str, str]
    at: str = "20m"
    labels: dict[str, str] = field(default_factory=dict)
    """Labels the fired alert carries besides severity and team."""


def _latency(fast: int, slow: int) -> dict[str, str]:
    """Per minute: `fast` requests under 300 ms and `slow` between 300 and 500 ms."""
    metric = 'quintet_http_request_duration_seconds_bucket{view="feed-home",method="GET",le="%s"}'
    return {metric % "0.3": f"0+{fast}x30", metric % "0.5": f"0+{fast + slow}x30",
            metric % "+Inf": f"0+{fast + slow}x30"}


def _responses(ok: int, errors: int) -> dict[str, str]:
    metric = 'quintet_http_responses_total{view="feed-home",method="GET",status="%s"}'
    return {metric % "200": f"0+{ok}x30", metric % "503": f"0+{errors}x30"}


def _queue_wait(queue: str, fast: int, slow: int, bound: float) -> dict[str, str]:
    """Per minute: `fast` tasks starting within `bound` seconds, `slow` within 2 x bound."""
    metric = 'quintet_celery_queue_wait_seconds_bucket{queue="%s",le="%s"}'
    return {metric % (queue, f"{bound:g}"): f"0+{fast}x30",
            metric % (queue, f"{bound * 2:g}"): f"0+{fast + slow}x30",
            metric % (queue, "+Inf"): f"0+{fast + slow}x30",
            f'quintet_celery_queue_wait_seconds_count{{queue="{queue}"}}': f"0+{fast + slow}x30"}


def _cache(hits: int, misses: int) -> dict[str, str]:
    metric = 'quintet_cache_lookups_total{family="feed",result="%s"}'
    return {metric % "hit": f"0+{hits}x30", metric % "miss": f"0+{misses}x30"}


def _connections(used: int) -> dict[str, str]:
    return {'quintet_database_connections{pod="web-1"}': f"{used}x30",
            'quintet_database_max_connections{pod="web-1"}': "100x30"}


BEAT = "quintet_celery_beat_last_tick_timestamp_seconds"
CASES = [
    Case("QuintetWebLatencyP95High", True, _latency(fast=50, slow=50)),
    Case("QuintetWebLatencyP95High", False, _latency(fast=99, slow=1)),
    Case("QuintetWeb5xxRatioHigh", True, _responses(ok=95, errors=5)),
    Case("QuintetWeb5xxRatioHigh", False, _responses(ok=1000, errors=1)),
    *(Case(f"QuintetQueueWaitHigh{q.capitalize()}", True, _queue_wait(q, 50, 50, bound))
      for q, bound in (("priority", 5), ("default", 60), ("low", 900))),
    *(Case(f"QuintetQueueWaitHigh{q.capitalize()}", False, _queue_wait(q, 99, 1, bound))
      for q, bound in (("priority", 5), ("default", 60), ("low", 900))),
    # A slow default queue does not page as a slow priority queue.
    Case("QuintetQueueWaitHighPriority", False, _queue_wait("default", 0, 10, 60)),
    Case("QuintetQueueStalled", True, {'quintet_celery_queue_length{queue="low",pod="w"}': "40x30"},
         labels={"queue": "low"}),
    Case("QuintetQueueStalled", False,
         {'quintet_celery_queue_length{queue="low",pod="w"}': "40x30",
          'quintet_celery_queue_wait_seconds_count{queue="low"}': "0+5x30"}),
    Case("QuintetCacheHitRatioLow", True, _cache(hits=70, misses=30)),
    Case("QuintetCacheHitRatioLow", False, _cache(hits=90, misses=10)),
    Case("QuintetDatabaseConnectionsHigh", True, _connections(used=60)),
    Case("QuintetDatabaseConnectionsHigh", False, _connections(used=40)),
    Case("QuintetPgBouncerClientsWaiting", True,
         {'quintet_pgbouncer_maxwait_seconds{database="app"}': "3x30"}),
    Case("QuintetPgBouncerClientsWaiting", False,
         {'quintet_pgbouncer_maxwait_seconds{database="app"}': "0x30"}),
    Case("QuintetTasksDeadLettered", True,
         {'quintet_celery_task_dead_lettered_total{queue="priority",task="t"}': "0x10 1x20"},
         at="12m", labels={"queue": "priority", "task": "t"}),
    Case("QuintetTasksDeadLettered", False,
         {'quintet_celery_task_dead_lettered_total{queue="priority",task="t"}': "3x30"}),
    # Samples every minute of Unix time t (the test clock starts at 0): ticks stop at 5 min.
    Case("QuintetBeatHeartbeatMissing", True, {BEAT: "0+60x5 _x25"}, at="10m"),
    Case("QuintetBeatHeartbeatMissing", True, {"up": "1x30"}, at="5m"),  # never scraped
    Case("QuintetBeatHeartbeatMissing", False, {BEAT: "0+60x30"}, at="20m"),
]


def _expected(case: Case, rule: dict) -> list[dict]:
    if not case.fires:
        return []
    labels = {**rule["labels"], **case.labels}
    annotations = {k: re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], v)
                   for k, v in rule["annotations"].items()}
    return [{"exp_labels": labels, "exp_annotations": annotations}]


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False)


def test_the_rule_file_passes_promtool_check(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": rule_groups()}))
    result = _promtool("check", "rules", "rules.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    names = {rule["alert"] for rule in alert_rules()}
    assert {c.alert for c in CASES if c.fires} == names
    assert {c.alert for c in CASES if not c.fires} == names


def test_each_alert_fires_on_breaking_series_and_only_there(tmp_path: Path) -> None:
    rules = {rule["alert"]: rule for rule in alert_rules()}
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": rule_groups()}))
    tests = [
        {
            "name": f"{case.alert} {'fires' if case.fires else 'quiet'} #{index}",
            "interval": "1m",
            "input_series": [{"series": s, "values": v} for s, v in case.series.items()],
            "alert_rule_test": [{"eval_time": case.at, "alertname": case.alert,
                                 "exp_alerts": _expected(case, rules[case.alert])}],
        }
        for index, case in enumerate(CASES)
    ]
    (tmp_path / "tests.yaml").write_text(
        yaml.safe_dump({"rule_files": ["rules.yaml"], "evaluation_interval": "1m",
                        "tests": tests}))
    result = _promtool("test", "rules", "tests.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
