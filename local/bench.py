"""`make bench`: quintet against its peer, side by side in one run, on the local topology.

Loopback only and bounded (about 3 to 4 minutes, under 5). It uses the running topology or
brings one up detached (and stops it afterwards), starts the peer (local/peer.py: the same app
under cookiecutter-django's production shape) beside it, and measures both with the same
load: wrk for closed-loop throughput and latency, locust for the scenario mix and the Zipf
workload. Every figure carries its tool, its concurrency and how busy the load generator was.
Writes build/bench/report.md, figures.json and the plots, and docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import json
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

from local.bench_report import docs_markdown, plot_latency, plot_queue_age, report_markdown
from local.bench_seed import sections_seed
from local.cli import down, up
from local.loadgen import LoadResult, locust, wrk
from local.peer import Peer
from local.slo import slo_markdown
from local.supervise import Supervisor
from local.topology import ROOT, Topology, TopologyError

OUT = ROOT / "build" / "bench"
DOCS = ROOT / "docs" / "benchmarks.md"
BACKLOG = 10_000
SIGNUPS = 10
STAMPEDE_KEYS = 3
STAMPEDE_CONCURRENCY = 100
STORM_CLIENTS = 400
STORM_SECONDS = 6.0
ZIPF_KEYS = 1000
ZIPF_S = 1.1
ORDER = json.dumps({"email": "bench@example.com", "amount_cents": 1999})
LOW_TASK = "notifications.tasks.maintenance_cleanup"
"""A cheap `low` task (a no-op after its first run per day: docs/celery.md)."""


@dataclass
class Report:
    """Everything measured, in order: load runs by `<side>:<path>-<connections>`, and figures."""

    started: str
    loads: dict[str, LoadResult] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)


_BEGUN = time.monotonic()


def _say(text: str) -> None:
    print(f"[{time.monotonic() - _BEGUN:5.0f}s] {text}" if text.startswith("bench:") else text,
          flush=True)


def load_average() -> str:
    """The machine's 1-minute load average (other work on it shows in every figure)."""
    return Path("/proc/loadavg").read_text().split()[0]


# ---- setup ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeds:
    """What the bench seeded, by purpose."""

    article: str
    stampede: dict[str, list[str]]
    """Side -> the cold sections its stampede hits."""
    zipf_prefix: str


def seed(topology: Topology) -> Seeds:
    """Seed every section and article the run reads, then empty the app cache."""
    run = uuid.uuid4().hex[:6]
    read_section, zipf_prefix = f"bench-{run}", f"zipf-{run}"
    stampede = {side: [f"stampede-{side}-{run}-{k}" for k in range(STAMPEDE_KEYS)]
                for side in ("quintet", "peer")}
    sections_seed(topology, slugs=[read_section], articles_each=20)
    sections_seed(topology, slugs=[s for keys in stampede.values() for s in keys],
                  articles_each=20)
    sections_seed(topology, slugs=[f"{zipf_prefix}-{k}" for k in range(1, ZIPF_KEYS + 1)],
                  articles_each=1)
    cache_redis(topology).flushdb()  # nothing the app cached before the seed survives it
    return Seeds(article=f"{read_section}-1", stampede=stampede, zipf_prefix=zipf_prefix)


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


# ---- closed-loop paths (wrk) ------------------------------------------------------------

PATHS: dict[str, tuple[str, str]] = {
    "read": ("GET", "/articles/{article}/"),
    "cached": ("GET", "/"),
    "fanout": ("POST", "/api/checkout/prepare/"),
    "fanout_sync": ("POST", "/api/checkout/prepare-sync/"),
    "livez": ("GET", "/livez"),
}
"""Path name -> (method, path). `read` is one uncached query; `cached` the app-cached feed."""


def path_load(report: Report, *, side: str, base: str, path: str, connections: int,
              seconds: float, seeds: Seeds) -> LoadResult:
    """Run wrk on one path of one side and keep the result under `<side>:<path>-<c>`."""
    method, template = PATHS[path]
    url = base + template.format(article=seeds.article)
    body = ORDER if method == "POST" else ""
    # Twice per process behind the ALB's round robin, so no worker meets the run cold. Each
    # must be exactly 200: a redirect or an error page would be measured as the path (wrk counts
    # only statuses above 399 as errors, so a 301 would pass as a fast answer).
    for _ in range(WARM_REQUESTS):
        warm = httpx.request(method, url, content=body or None, timeout=10,
                             headers={"Content-Type": "application/json",
                                      "X-Forwarded-Proto": "https"})
        if warm.status_code != 200:
            raise TopologyError(f"{side} {method} {url} answered {warm.status_code} before "
                                "the run")
    name = f"{side}:{path}-{connections}"
    result = wrk(url, name=name.replace(":", "-"), out_dir=OUT, connections=connections,
                 seconds=seconds, method=method, body=body)
    report.loads[name] = result
    return result


def paths_run(report: Report, *, side: str, base: str, seeds: Seeds,
              fanout: str = "fanout") -> None:
    """The uncached read, the cached page and the fan-out at 1 and 20 connections.

    `fanout` names the route this side fans out with: the peer's ATOMIC_REQUESTS refuses
    async views, so a team on that shape calls the upstreams from a sync view.
    """
    for path, connections, seconds in (("read", 1, 4), ("read", 20, 4), ("cached", 1, 3),
                                       ("cached", 20, 3), (fanout, 1, 3), (fanout, 20, 5)):
        _say(f"bench: {side} {path} at {connections} connection(s) ...")
        path_load(report, side=side, base=base, path=path, connections=connections,
                  seconds=seconds, seeds=seeds)
        if path == fanout != "fanout":  # compared as this side's fan-out
            report.loads[f"{side}:fanout-{connections}"] = report.loads.pop(
                f"{side}:{path}-{connections}")


# ---- the stampede -------------------------------------------------------------------------


def rebuilds(topology: Topology, section: str) -> int:
    """The app's rebuild counter of one section feed."""
    return int(cache_redis(topology).get(f"q:rebuilds:feed:{section}") or 0)


async def _burst(url: str, count: int) -> list[int]:
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    async with httpx.AsyncClient(limits=limits, timeout=30,
                                 headers={"X-Forwarded-Proto": "https"}) as client:
        responses = await asyncio.gather(*(client.get(url) for _ in range(count)))
    return [r.status_code for r in responses]


def stampede(topology: Topology, *, base: str, sections: list[str]) -> dict[str, Any]:
    """Rebuilds per cold key when STAMPEDE_CONCURRENCY requests for it arrive at once."""
    statuses: list[int] = []
    for section in sections:
        statuses += asyncio.run(_burst(f"{base}/sections/{section}/", STAMPEDE_CONCURRENCY))
    counts = [rebuilds(topology, s) for s in sections]
    return {"keys": len(sections), "concurrency": STAMPEDE_CONCURRENCY,
            "ok": sum(s == 200 for s in statuses), "requests": len(statuses),
            "max_rebuilds": max(counts, default=0),
            "mean_rebuilds": sum(counts) / max(len(counts), 1)}


# ---- the connection storm -----------------------------------------------------------------


class BackendSampler:
    """Samples the Postgres backends of the app role (primary + replica) until stopped."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.peak_backends = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> BackendSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(5)

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
                self._stop.wait(0.05)


async def _storm_client(url: str, until: float) -> tuple[int, bool]:
    done = 0
    try:
        async with await psycopg.AsyncConnection.connect(url, prepare_threshold=None,
                                                         autocommit=True,
                                                         connect_timeout=20) as conn:
            while time.monotonic() < until:
                await conn.execute("SELECT pg_sleep(0.01)")
                done += 1
    except psycopg.OperationalError:
        return done, False  # refused (too many clients) or dropped
    return done, True


async def _storm(url: str, clients: int, seconds: float) -> list[tuple[int, bool]]:
    until = time.monotonic() + seconds

    async def one(index: int) -> tuple[int, bool]:
        await asyncio.sleep(index * 0.005)  # connect in a ramp, not one burst of SYNs
        return await _storm_client(url, until)

    return list(await asyncio.gather(*(one(i) for i in range(clients))))


def connection_storm(topology: Topology, *, url: str) -> dict[str, int]:
    """STORM_CLIENTS clients each holding a connection and running short queries."""
    url = url.replace("postgres://", "postgresql://")
    with BackendSampler(topology) as sampler:
        outcomes = asyncio.run(_storm(url, STORM_CLIENTS, STORM_SECONDS))
    return {"clients": STORM_CLIENTS, "peak_backends": sampler.peak_backends,
            "refused": sum(not ok for _, ok in outcomes),
            "transactions": sum(done for done, _ in outcomes)}


# ---- Celery: the priority queue behind a low backlog ---------------------------------------


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


def signup(topology: Topology, *, prefix: str) -> None:
    """Sign one new account up at the origin; a refusal stops the bench rather than skew it."""
    name = f"{prefix}{uuid.uuid4().hex[:10]}"
    # A password unlike the username: Django's similarity validator refuses "pw-<username>".
    answer = httpx.post(f"{topology.origin_url}/api/accounts/signup/", timeout=10, json={
        "username": name, "email": f"{name}@example.com", "password": uuid.uuid4().hex})
    if answer.status_code != 201:
        raise TopologyError(f"bench sign-up answered {answer.status_code}: {answer.text[:300]}")


def queue_age(topology: Topology) -> dict[str, Any]:
    """Priority queue age while `low` holds a backlog of BACKLOG tasks (sign-ups' emails)."""
    broker = broker_redis(topology)
    broker.delete("quintet:queue_age:priority")
    publish_backlog(topology, BACKLOG)
    backlog_start = int(broker.llen("low"))
    for _ in range(SIGNUPS):
        signup(topology, prefix="bench")
        time.sleep(0.1)
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
        for _ in range(signups):
            signup(topology, prefix="lag")
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


# ---- run --------------------------------------------------------------------------------


def zipf(report: Report, topology: Topology, seeds: Seeds) -> None:
    """The Zipf workload on the app cache: a cold phase, then the warm hit ratio."""
    env = {"BENCH_ZIPF_PREFIX": seeds.zipf_prefix, "BENCH_ZIPF_KEYS": str(ZIPF_KEYS),
           "BENCH_ZIPF_S": str(ZIPF_S)}
    sections = [f"{seeds.zipf_prefix}-{k}" for k in range(1, ZIPF_KEYS + 1)]

    def built() -> int:
        values = cache_redis(topology).mget([f"q:rebuilds:feed:{s}" for s in sections])
        return sum(int(v or 0) for v in values)

    # Every key's first request is a miss by definition; the article's figure is a steady
    # state one, so the ratio is taken on the warm phase after a cold one over the same keys.
    before = built()  # the scenario mix already touched the hottest keys
    cold = locust("ZipfFeed", host=topology.origin_url, name="zipf-cold", out_dir=OUT,
                  users=10, seconds=6, env=env)
    cold_built = built() - before
    warm = locust("ZipfFeed", host=topology.origin_url, name="zipf", out_dir=OUT, users=10,
                  seconds=10, env=env)
    report.loads["quintet:zipf-10"] = warm
    warm_built = built() - before - cold_built
    report.figures["hit_ratio"] = {
        "ratio": 1 - warm_built / max(warm.requests, 1), "keys": ZIPF_KEYS, "s": ZIPF_S,
        "rebuilds": warm_built, "requests": warm.requests,
        "cold_ratio": 1 - cold_built / max(cold.requests, 1), "cold_requests": cold.requests,
    }


PLAN_STACKS = ("dev", "staging", "prod")
WARM_REQUESTS = 4
"""Requests per path before its run: twice for each of the two processes of a side."""


def plan_timing() -> dict[str, Any]:
    """Wall seconds of `make plan`'s program: the shipped stacks in one process, and each alone.

    A failed or stuck plan is reported, not raised: it must not cost the rest of the bench.
    """
    def timed(*stacks: str) -> float | None:
        started = time.monotonic()
        try:
            subprocess.run([sys.executable, "-m", "offline.plan", "--stack", *stacks],
                           cwd=ROOT, check=True, stdout=subprocess.DEVNULL, timeout=300)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            return None
        return time.monotonic() - started

    together = timed(*PLAN_STACKS)
    return {"stacks": len(PLAN_STACKS), "together_s": together,
            "alone_s": {stack: timed(stack) for stack in PLAN_STACKS}}


def run(topology: Topology) -> Report:
    """Every scenario in turn, quintet and peer alike where both apply."""
    report = Report(started=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))
    report.figures["loadavg_start"] = load_average()
    _say("bench: offline plan of the shipped stacks ...")
    report.figures["plan"] = plan_timing()
    seeds = seed(topology)
    stub_control(topology, 200)
    edge, origin = topology.url, topology.origin_url
    httpx.get(f"{edge}/", timeout=10)  # warm the edge entry
    _say("bench: edge page (nginx cache hit) ...")
    report.loads["quintet:edge-50"] = wrk(f"{edge}/", name="quintet-edge-50", out_dir=OUT,
                                          connections=50, seconds=5, threads=2)
    path_load(report, side="quintet", base=origin, path="livez", connections=1, seconds=3,
              seeds=seeds)
    paths_run(report, side="quintet", base=origin, seeds=seeds)
    _say("bench: quintet sync fan-out (the comparison route) ...")
    for connections, seconds in ((1, 3), (20, 5)):
        path_load(report, side="quintet", base=origin, path="fanout_sync",
                  connections=connections, seconds=seconds, seeds=seeds)
    _say("bench: quintet stampede on cold keys ...")
    report.figures["stampede:quintet"] = stampede(topology, base=origin,
                                                  sections=seeds.stampede["quintet"])
    with Peer(topology) as peer:
        paths_run(report, side="peer", base=peer.url, seeds=seeds, fanout="fanout_sync")
        _say("bench: peer stampede on cold keys ...")
        report.figures["stampede:peer"] = stampede(topology, base=peer.url,
                                                   sections=seeds.stampede["peer"])
    services = topology.dataservices()
    _say(f"bench: {STORM_CLIENTS}-client connection storm through PgBouncer (quintet) ...")
    report.figures["storm:quintet"] = connection_storm(topology, url=services.database_url)
    _say(f"bench: {STORM_CLIENTS}-client connection storm straight to Postgres (peer) ...")
    report.figures["storm:peer"] = connection_storm(topology, url=services.direct_primary_url)
    _say("bench: locust scenario mix, then the Zipf hot path ...")
    report.loads["quintet:mix-10"] = locust(
        "ScenarioMix", host=origin, name="mix", out_dir=OUT, users=10, seconds=8,
        env={"BENCH_SLUG": seeds.article, "BENCH_ZIPF_PREFIX": seeds.zipf_prefix})
    zipf(report, topology, seeds)
    _say(f"bench: priority queue age behind a {BACKLOG}-task low backlog ...")
    report.figures["queue_age"] = queue_age(topology)
    _say("bench: outbox relay lag ...")
    report.figures["outbox"] = outbox_lag(topology)
    stub_control(topology, topology.upstream_delay_ms)
    report.figures["loadavg_end"] = load_average()
    return report


def write(report: Report, seconds: float) -> str:
    """Write report.md, figures.json, the plots and docs/benchmarks.md; return the report."""
    report.figures["bench_seconds"] = round(seconds)
    plot_latency(report.loads, OUT / "latency.png")
    plot_queue_age(report.figures["queue_age"], BACKLOG, OUT / "queue_age.png")
    text = report_markdown(report.started, report.loads, report.figures)
    text += slo_markdown(Topology.from_env().prometheus_url)  # the SLO table after the load
    (OUT / "report.md").write_text(text)
    figures = {k: ({x: y for x, y in v.items() if x != "all_ms"} if isinstance(v, dict) else v)
               for k, v in report.figures.items()}
    figures["loads"] = {k: v.as_dict() for k, v in report.loads.items()}
    (OUT / "figures.json").write_text(json.dumps(figures, indent=1))
    DOCS.write_text(docs_markdown(text))
    return text


def main() -> int:
    """Bring the topology up if needed, run, write the report, print it, stop what we started."""
    topology = Topology.from_env()
    OUT.mkdir(parents=True, exist_ok=True)
    started_here = False
    begun = time.monotonic()
    try:
        if Supervisor(topology).pid() is None:
            _say("bench: bringing the local topology up for the run")
            up(topology, detach=True)
            started_here = True
        report = run(topology)
        text = write(report, time.monotonic() - begun)
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

