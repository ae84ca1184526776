"""`make bench`: load the local topology with locust and compare each figure with the article's.

Loopback only and bounded (about 3 minutes, under 5). It uses the running topology, or brings
one up detached and stops it afterwards. Every figure printed is measured in this run; the
article's numbers are the reference column only. Writes build/bench/report.md and latency.png.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis
from kombu import Connection, Exchange, Queue

from local.cli import down, up
from local.supervise import Supervisor
from local.topology import ROOT, Topology, TopologyError

OUT = ROOT / "build" / "bench"
LOCUSTFILE = ROOT / "local" / "locustfile.py"
LOCUST = Path(sys.executable).parent / "locust"
PERCENTILES = ["50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "99.9%", "100%"]
BACKLOG = 10_000
SIGNUPS = 40
STAMPEDE_KEYS = 5
STAMPEDE_CONCURRENCY = 100
STORM_CLIENTS = 400
LOW_TASK = "notifications.tasks.maintenance_cleanup"
"""A cheap `low` task (a no-op after its first run per day: docs/celery.md)."""


@dataclass
class LoadResult:
    """One locust run's aggregated figures (milliseconds, requests per second)."""

    name: str
    users: int
    requests: int
    failures: int
    rps: float
    percentiles: dict[str, float]

    def p(self, label: str) -> float:
        """The percentile `label` ('50%', '95%', ...) in ms."""
        return self.percentiles[label]


@dataclass
class Report:
    """Everything measured, in order."""

    started: str
    loads: dict[str, LoadResult] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)


def _say(text: str) -> None:
    print(text, flush=True)


def locust(topology: Topology, user: str, *, host: str, users: int, seconds: int,
           env: dict[str, str] | None = None, label: str | None = None) -> LoadResult:
    """Run one headless locust scenario and read its aggregated CSV row."""
    name = label or user
    prefix = OUT / name
    argv = [str(LOCUST), "-f", str(LOCUSTFILE), "--headless", "--only-summary",
            "-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--host", host,
            "--csv", str(prefix), "--loglevel", "ERROR", "--stop-timeout", "5", user]
    result = subprocess.run(argv, cwd=ROOT, env={**os.environ, **(env or {})},
                            capture_output=True, text=True, timeout=seconds + 60, check=False)
    stats = Path(f"{prefix}_stats.csv")
    if not stats.exists():
        raise TopologyError(f"locust {user} wrote no stats: {result.stderr.strip()[-600:]}")
    with stats.open() as handle:
        row = next(r for r in csv.DictReader(handle) if r["Name"] == "Aggregated")
    return LoadResult(
        name=name, users=users, requests=int(row["Request Count"]),
        failures=int(row["Failure Count"]), rps=float(row["Requests/s"]),
        percentiles={p: float(row[p]) for p in PERCENTILES if row.get(p) not in (None, "N/A")},
    )


# ---- setup ------------------------------------------------------------------------------


def seed_article(topology: Topology) -> str:
    """Publish one article to read at the origin; return its slug."""
    response = httpx.post(f"{topology.origin_url}/api/articles/", timeout=10, json={
        "section": "bench", "title": f"Bench article {uuid.uuid4().hex[:6]}",
        "body": "A body read from the database on every request. " * 20})
    response.raise_for_status()
    return str(response.json()["slug"])


def stub_control(topology: Topology, delay_ms: int, fail: str = "") -> None:
    """Set the stub upstreams' delay and failing names."""
    httpx.post(f"http://127.0.0.1:{topology.stub_port}/_control?delay_ms={delay_ms}&fail={fail}",
               timeout=5).raise_for_status()


def cache_redis(topology: Topology) -> redis.Redis:
    """The cache Redis."""
    return redis.Redis(host="127.0.0.1", port=topology.data_ports.cache)


def broker_redis(topology: Topology) -> redis.Redis:
    """The broker Redis."""
    return redis.Redis(host="127.0.0.1", port=topology.data_ports.broker)


# ---- scenarios --------------------------------------------------------------------------


def rebuilds(topology: Topology, feed_prefix: str) -> dict[str, int]:
    """The app's rebuild counters of the section feeds named `<feed_prefix>*`."""
    client = cache_redis(topology)
    keys = list(client.scan_iter(match=f"q:rebuilds:feed:{feed_prefix}*", count=1000))
    values = client.mget(keys) if keys else []
    return {k.decode(): int(v or 0) for k, v in zip(keys, values, strict=True)}


async def _burst(url: str, count: int) -> list[int]:
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        responses = await asyncio.gather(*(client.get(url) for _ in range(count)))
    return [r.status_code for r in responses]


def stampede(topology: Topology) -> dict[str, Any]:
    """Rebuilds per cold key when 100 requests for it arrive at once (at the origin)."""
    prefix = f"stampede-{uuid.uuid4().hex[:6]}"
    statuses: list[int] = []
    for k in range(STAMPEDE_KEYS):
        statuses += asyncio.run(_burst(f"{topology.origin_url}/sections/{prefix}-{k}/",
                                       STAMPEDE_CONCURRENCY))
    counts = list(rebuilds(topology, prefix).values())
    return {"keys": STAMPEDE_KEYS, "concurrency": STAMPEDE_CONCURRENCY,
            "ok": sum(s == 200 for s in statuses), "requests": len(statuses),
            "max_rebuilds": max(counts, default=0),
            "mean_rebuilds": sum(counts) / max(len(counts), 1)}


class PoolSampler:
    """Samples client connections into PgBouncer and Postgres backends of the app role."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.peak_clients = 0
        self.peak_backends = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PoolSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _clients(self) -> int:
        port = f"{self.topology.data_ports.pgbouncer:04X}"
        count = 0
        for row in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = row.split()
            if fields[3] == "01" and fields[1].endswith(f":{port}"):
                count += 1  # an established connection whose local end is PgBouncer's port
        return count

    def _run(self) -> None:
        ports = self.topology.data_ports
        sql = "SELECT count(*) FROM pg_stat_activity WHERE usename = 'app'"
        with psycopg.connect(host="127.0.0.1", port=ports.primary, user="postgres",
                             dbname="postgres", autocommit=True) as primary, \
             psycopg.connect(host="127.0.0.1", port=ports.replica, user="postgres",
                             dbname="postgres", autocommit=True) as replica:
            while not self._stop.is_set():
                backends = sum(int(c.execute(sql).fetchone()[0])  # type: ignore[index]
                               for c in (primary, replica))
                self.peak_backends = max(self.peak_backends, backends)
                self.peak_clients = max(self.peak_clients, self._clients())
                time.sleep(0.05)


async def _storm_client(url: str, until: float) -> int:
    done = 0
    async with await psycopg.AsyncConnection.connect(url, prepare_threshold=None,
                                                     autocommit=True) as conn:
        while time.monotonic() < until:
            await conn.execute("SELECT pg_sleep(0.01)")
            done += 1
    return done


async def _storm(url: str, clients: int, seconds: float) -> int:
    until = time.monotonic() + seconds

    async def one(index: int) -> int:
        await asyncio.sleep(index * 0.005)  # connect in a ramp, not one burst of SYNs
        return await _storm_client(url, until)

    return sum(await asyncio.gather(*(one(i) for i in range(clients))))


def pgbouncer_storm(topology: Topology) -> dict[str, int]:
    """Hold STORM_CLIENTS client connections running short transactions; sample both sides."""
    url = topology.dataservices().database_url.replace("postgres://", "postgresql://")
    with PoolSampler(topology) as sampler:
        transactions = asyncio.run(_storm(url, STORM_CLIENTS, 8.0))
    return {"clients": STORM_CLIENTS, "peak_clients": sampler.peak_clients,
            "peak_backends": sampler.peak_backends, "transactions": transactions}


def publish_backlog(topology: Topology, count: int) -> None:
    """Put `count` cheap tasks on `low`, in Celery's message format (no app code imported)."""
    exchange = Exchange("tasks", type="direct")
    queue = Queue("low", exchange, routing_key="low")
    with Connection(f"redis://127.0.0.1:{topology.data_ports.broker}/0") as conn:
        producer = conn.Producer(serializer="json")
        queue(conn.default_channel).declare()
        for _ in range(count):
            task_id = str(uuid.uuid4())
            producer.publish(
                [[], {"day": "2000-01-01"}, {"callbacks": None, "errbacks": None,
                                             "chain": None, "chord": None}],
                exchange=exchange, routing_key="low",
                headers={"lang": "py", "task": LOW_TASK, "id": task_id, "root_id": task_id,
                         "parent_id": None, "group": None, "retries": 0, "eta": None,
                         "expires": None, "timelimit": [None, None],
                         "enqueued_at": time.time()},
            )


def queue_age(topology: Topology) -> dict[str, Any]:
    """Priority queue age while `low` holds a backlog of BACKLOG tasks (sign-ups' emails)."""
    broker = broker_redis(topology)
    broker.delete("quintet:queue_age:priority")
    publish_backlog(topology, BACKLOG)
    backlog_start = int(broker.llen("low"))
    for i in range(SIGNUPS):
        name = f"bench{uuid.uuid4().hex[:10]}"
        httpx.post(f"{topology.origin_url}/api/accounts/signup/", timeout=10, json={
            "username": name, "email": f"{name}@example.com", "password": f"pw-{name}-{i}"})
        time.sleep(0.2)
    deadline = time.monotonic() + 30
    while broker.llen("quintet:queue_age:priority") < SIGNUPS and time.monotonic() < deadline:
        time.sleep(0.2)
    backlog_end = int(broker.llen("low"))
    samples = sorted(float(v) for v in broker.lrange("quintet:queue_age:priority", 0, -1))
    broker.delete("low")  # drop what is left of the synthetic backlog
    if not samples:
        return {"samples": 0, "backlog_start": backlog_start, "backlog_end": backlog_end}
    p95 = samples[max(0, -(-95 * len(samples) // 100) - 1)]
    return {"samples": len(samples), "p50_ms": samples[len(samples) // 2], "p95_ms": p95,
            "max_ms": samples[-1], "backlog_start": backlog_start, "backlog_end": backlog_end,
            "all_ms": samples}


def outbox_lag(topology: Topology, signups: int = 20) -> dict[str, Any]:
    """The relay's lag (age of the oldest unsent outbox row), sampled through a burst of
    sign-ups until every message is published."""
    sql = ("SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0), count(*) "
           "FROM core_outboxmessage WHERE sent_at IS NULL")
    peak, samples = 0.0, []
    with psycopg.connect(topology.dataservices().direct_primary_url, autocommit=True) as conn:
        for i in range(signups):
            name = f"lag{uuid.uuid4().hex[:10]}"
            httpx.post(f"{topology.origin_url}/api/accounts/signup/", timeout=10, json={
                "username": name, "email": f"{name}@example.com", "password": f"pw-{name}-{i}"})
            lag = float(conn.execute(sql).fetchone()[0])
            samples.append(lag)
            peak = max(peak, lag)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            lag, unsent = conn.execute(sql).fetchone()
            peak = max(peak, float(lag))
            if unsent == 0:
                break
            time.sleep(0.05)
    return {"signups": signups, "max_s": peak, "p50_s": sorted(samples)[len(samples) // 2]}


# ---- report -----------------------------------------------------------------------------


def _ms(value: float) -> str:
    return f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"


def report_markdown(report: Report) -> str:
    """The Markdown report: each measured figure beside the article's."""
    loads, fig = report.loads, report.figures
    rows = ["| scenario | users | p50 | p95 | p99 | req/s | failures | article |",
            "|---|---:|---:|---:|---:|---:|---:|---|"]
    article = {
        "edge": "p50 20-60 ms (mostly from the CDN)",
        "origin": "p95 120-300 ms (whole site)",
        "async-1": "~210 ms (floor 200 ms)", "sync-1": "~600 ms (3 x 200 ms)",
        "async-20": "about 3x the sync throughput", "sync-20": "",
        "zipf": "cache hit rate > 85 % on hot paths",
    }
    for key, load in loads.items():
        rows.append(f"| {load.name} | {load.users} | {_ms(load.p('50%'))} | {_ms(load.p('95%'))}"
                    f" | {_ms(load.p('99%'))} | {load.rps:.0f} | {load.failures} | "
                    f"{article.get(key, '')} |")
    stampede_fig, pool, age = fig["stampede"], fig["pgbouncer"], fig["queue_age"]
    hit = fig["hit_ratio"]
    p95_age = age.get("p95_ms")
    age_text = f"{p95_age / 1000:.2f} s" if p95_age is not None else "no samples"
    speedup = loads["sync-1"].p("50%") / max(loads["async-1"].p("50%"), 1e-9)
    lines = [
        "# quintet bench (local topology)", "",
        f"Run {report.started} on this machine, loopback only, with locust "
        "(closed loop, no think time). Every figure below was measured in this run; the last "
        "column is the reference article's number. One 2-core machine runs the load generator "
        "and the whole topology, so absolute numbers are a floor on what the patterns give, "
        "not a capacity figure.", "",
        "## Latency and throughput", "", *rows, "",
        "![latency percentiles](latency.png)", "",
        "## Patterns", "",
        "| figure | measured | article |", "|---|---|---|",
        f"| async vs sync fan-out, three 200 ms upstreams (p50, 1 user each) | "
        f"{_ms(loads['async-1'].p('50%'))} vs {_ms(loads['sync-1'].p('50%'))} "
        f"({speedup:.1f}x) | ~210 ms vs ~600 ms; floor 200 ms |",
        f"| async vs sync throughput at 20 users | {loads['async-20'].rps:.1f} vs "
        f"{loads['sync-20'].rps:.1f} req/s | about 3x |",
        f"| app cache hit ratio, Zipf(s={hit['s']}) over {hit['keys']} feeds | "
        f"{hit['ratio'] * 100:.1f} % warm ({hit['rebuilds']} rebuilds / {hit['requests']} "
        f"requests); {hit['cold_ratio'] * 100:.1f} % in the cold phase before it "
        f"({hit['cold_requests']} requests) | > 85 % on hot paths |",
        f"| stampede: rebuilds per cold key, {stampede_fig['concurrency']} concurrent | max "
        f"{stampede_fig['max_rebuilds']}, mean {stampede_fig['mean_rebuilds']:.1f} over "
        f"{stampede_fig['keys']} keys ({stampede_fig['ok']}/{stampede_fig['requests']} 200s) | "
        "floor 1 |",
        f"| PgBouncer: peak client connections onto Postgres backends | "
        f"{pool['peak_clients']} onto {pool['peak_backends']} "
        f"({pool['transactions']} transactions in 8 s) | 800 onto 200 |",
        f"| PgBouncer during the origin read load (the app's own connections) | "
        f"{fig['pgbouncer_app']['peak_clients']} onto {fig['pgbouncer_app']['peak_backends']} "
        "| |",
        f"| priority queue age p95 while `low` holds {BACKLOG} tasks | {age_text} "
        f"({age.get('samples', 0)} sign-up emails; low backlog {age.get('backlog_start')} -> "
        f"{age.get('backlog_end')}) | < 5 s |",
        f"| outbox relay lag (oldest unsent message) over {fig['outbox']['signups']} sign-ups | "
        f"p50 {fig['outbox']['p50_s'] * 1000:.0f} ms, max {fig['outbox']['max_s'] * 1000:.0f} ms"
        " | |",
        "",
        "Reading the figures: Django under ASGI runs each sync request in a thread of its own, so "
        "at 20 users the sync variant is not limited to one request per process as on a sync "
        "WSGI worker; here both throughputs are bounded by the two shared cores. The warm hit "
        "ratio is measured after a 10 s cold phase over the same keys; the cold phase counts "
        "the first request of every key it touches as a miss.", "",
        "## Closing note", "",
        f"The edge answered the anonymous page at p50 {_ms(loads['edge'].p('50%'))} and "
        f"{loads['edge'].rps:.0f} req/s; the origin's uncached database read ran at p50 "
        f"{_ms(loads['origin'].p('50%'))}. Fanned out, the checkout took "
        f"{_ms(loads['async-1'].p('50%'))} against {_ms(loads['sync-1'].p('50%'))} in sequence. "
        f"The app cache served {hit['ratio'] * 100:.1f} % of the Zipf traffic, a cold key was "
        f"rebuilt at most {stampede_fig['max_rebuilds']} time(s) under "
        f"{stampede_fig['concurrency']} concurrent requests, PgBouncer carried "
        f"{pool['peak_clients']} client connections on {pool['peak_backends']} server "
        f"backends, and the priority queue's p95 age was {age_text} behind a "
        f"{BACKLOG}-task low backlog.", "",
    ]
    return "\n".join(lines)


def plot(report: Report, path: Path) -> None:
    """Latency percentiles per scenario, and the priority queue-age distribution."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for load in report.loads.values():
        labels = [p for p in PERCENTILES if p in load.percentiles]
        xs = [float(p.rstrip("%")) for p in labels]
        left.plot(range(len(xs)), [load.p(p) for p in labels], marker="o", label=load.name)
        left.set_xticks(range(len(xs)), labels, rotation=45)
    left.set_yscale("log")
    left.set_ylabel("latency (ms, log)")
    left.set_xlabel("percentile")
    left.set_title("HTTP latency by scenario")
    left.axhline(200, color="grey", linestyle=":", linewidth=1)
    left.legend(fontsize=7)
    samples = report.figures["queue_age"].get("all_ms", [])
    if samples:
        right.plot([100 * (i + 1) / len(samples) for i in range(len(samples))], samples,
                   marker=".")
        right.axhline(5000, color="red", linestyle=":", linewidth=1, label="article: 5 s")
        right.legend(fontsize=7)
    right.set_title(f"priority queue age, low backlog {BACKLOG}")
    right.set_xlabel("percentile")
    right.set_ylabel("ms")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---- run --------------------------------------------------------------------------------


def run(topology: Topology) -> Report:
    """Every scenario in turn; about three minutes."""
    report = Report(started=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))
    edge, origin = topology.url, topology.origin_url
    slug = seed_article(topology)
    stub_control(topology, 200)
    httpx.get(f"{edge}/", timeout=10)  # warm the edge entry
    _say("bench: edge page ...")
    report.loads["edge"] = locust(topology, "EdgePage", host=edge, users=20, seconds=12,
                                  label="edge")
    _say("bench: uncached database read at the origin ...")
    with PoolSampler(topology) as app_pool:
        report.loads["origin"] = locust(topology, "OriginRead", host=origin, users=10,
                                        seconds=12, env={"BENCH_SLUG": slug}, label="origin")
    report.figures["pgbouncer_app"] = {"peak_clients": app_pool.peak_clients,
                                       "peak_backends": app_pool.peak_backends}
    for users in (1, 20):
        _say(f"bench: checkout fan-out, async and sync, {users} user(s) ...")
        for kind, user in (("async", "CheckoutAsync"), ("sync", "CheckoutSync")):
            report.loads[f"{kind}-{users}"] = locust(
                topology, user, host=origin, users=users, seconds=10, label=f"{kind}-{users}")
    _say("bench: Zipf hot path on the app cache ...")
    prefix, keys, s = f"zipf-{uuid.uuid4().hex[:6]}", 1000, 1.1
    zipf_env = {"BENCH_ZIPF_PREFIX": prefix, "BENCH_ZIPF_KEYS": str(keys), "BENCH_ZIPF_S": str(s)}
    # A cold phase first: every key's first request is a miss by definition. The article's
    # figure is a steady-state one, so the ratio is measured on the warm phase that follows,
    # and the cold phase's own ratio is reported beside it.
    cold = locust(topology, "ZipfFeed", host=origin, users=10, seconds=10, label="zipf-cold",
                  env=zipf_env)
    cold_built = sum(rebuilds(topology, prefix).values())
    zipf = locust(topology, "ZipfFeed", host=origin, users=10, seconds=15, label="zipf",
                  env=zipf_env)
    report.loads["zipf"] = zipf
    built = sum(rebuilds(topology, prefix).values()) - cold_built
    report.figures["hit_ratio"] = {
        "ratio": 1 - built / max(zipf.requests, 1), "keys": keys, "s": s, "rebuilds": built,
        "requests": zipf.requests,
        "cold_ratio": 1 - cold_built / max(cold.requests, 1), "cold_requests": cold.requests,
    }
    _say("bench: stampede on cold keys ...")
    report.figures["stampede"] = stampede(topology)
    _say("bench: PgBouncer connection storm ...")
    report.figures["pgbouncer"] = pgbouncer_storm(topology)
    _say(f"bench: priority queue age behind a {BACKLOG}-task low backlog ...")
    report.figures["queue_age"] = queue_age(topology)
    _say("bench: outbox relay lag ...")
    report.figures["outbox"] = outbox_lag(topology)
    stub_control(topology, topology.upstream_delay_ms)
    return report


def main() -> int:
    """Bring the topology up if needed, run, write the report, print it, stop what we started."""
    topology = Topology.from_env()
    OUT.mkdir(parents=True, exist_ok=True)
    started_here = False
    try:
        if Supervisor(topology).pid() is None:
            _say("bench: bringing the local topology up for the run")
            up(topology, detach=True)
            started_here = True
        begun = time.monotonic()
        report = run(topology)
        plot(report, OUT / "latency.png")
        text = report_markdown(report)
        (OUT / "report.md").write_text(text)
        figures = {k: {x: y for x, y in v.items() if x != "all_ms"}
                   for k, v in report.figures.items()}
        (OUT / "figures.json").write_text(json.dumps(figures, indent=1))
        _say("\n" + re.sub(r"!\[.*\]\(.*\)\n", "", text))
        _say(f"bench took {time.monotonic() - begun:.0f}s; report: {OUT / 'report.md'}")
        return 0
    except (TopologyError, httpx.HTTPError, redis.RedisError, psycopg.Error, OSError) as error:
        print(f"quintet bench: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        if started_here:
            down(topology)


if __name__ == "__main__":
    sys.exit(main())
