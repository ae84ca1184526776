"""The Markdown report and plots of `make bench`: every figure with its tool and concurrency,
quintet beside its peer as ratios, and the issue's goals beside what was measured.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from local.loadgen import LoadResult

GENERATOR_BOUND = 0.9
"""A load generator thread above this fraction of a core measured itself, not the target."""
READ_P50_GOAL_MS = 5.0
FANOUT_FLOOR_MS = 200.0
FANOUT_RPS_GOAL = 80.0
FANOUT_SYNC_FACTOR_GOAL = 3.0
PLAN_SECONDS_GOAL = 3.0
PLOTTED_PATHS = ("read-1", "read-20", "cached-20", "fanout-20")


def _ms(value: float) -> str:
    return f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"


def _pct(value: float) -> str:
    return f"{value * 100:.0f} %"


def _load_row(key: str, load: LoadResult) -> str:
    side, _, path = key.partition(":")
    bound = " (generator-bound)" if load.generator_core >= GENERATOR_BOUND else ""
    return (f"| {side} | {path} | `{load.tool}` | {_ms(load.p(50))} | {_ms(load.p(95))} | "
            f"{_ms(load.p(99))} | {load.rps:.1f} | {load.errors} | "
            f"{_pct(load.generator_core)}{bound} |")


def ratio_rows(loads: Mapping[str, LoadResult], figures: Mapping[str, Any]) -> list[dict[str, Any]]:
    """quintet ÷ peer for each claim; `win` > 1 means quintet is better on that figure."""
    rows: list[dict[str, Any]] = []

    def add(name: str, quintet: float, peer: float, lower_is_better: bool, unit: str,
            runs: tuple[LoadResult, ...] = ()) -> None:
        ratio = quintet / peer if peer else float("inf")
        win = (peer / quintet if quintet else float("inf")) if lower_is_better else ratio
        errors = sum(run.errors for run in runs)
        if errors:  # a ratio over error answers says nothing about the path
            name += f" (**{errors} errors in these runs**)"
        rows.append({"figure": name, "quintet": quintet, "peer": peer, "unit": unit,
                     "ratio": ratio, "win": win})

    for path, label in (("read", "uncached DB read"), ("cached", "cached page (app cache)"),
                        ("fanout", "fan-out, three 200 ms upstreams")):
        q20, p20 = loads.get(f"quintet:{path}-20"), loads.get(f"peer:{path}-20")
        q1, p1 = loads.get(f"quintet:{path}-1"), loads.get(f"peer:{path}-1")
        if q1 and p1:
            add(f"{label}: p50 at 1 connection", q1.p(50), p1.p(50), True, "ms", (q1, p1))
        if q20 and p20:
            add(f"{label}: p50 at 20 connections", q20.p(50), p20.p(50), True, "ms", (q20, p20))
            add(f"{label}: p95 at 20 connections", q20.p(95), p20.p(95), True, "ms", (q20, p20))
            add(f"{label}: req/s at 20 connections", q20.rps, p20.rps, False, "req/s",
                (q20, p20))
    sq, sp = figures.get("stampede:quintet"), figures.get("stampede:peer")
    if sq and sp:
        add(f"stampede: rebuilds per cold key ({sq['concurrency']} at once, max)",
            sq["max_rebuilds"], sp["max_rebuilds"], True, "")
    tq, tp = figures.get("storm:quintet"), figures.get("storm:peer")
    if tq and tp:
        add(f"Postgres backends under a {tq['clients']}-client storm", tq["peak_backends"],
            tp["peak_backends"], True, "")
    return rows


def _num(value: float, unit: str) -> str:
    if unit == "ms":
        return _ms(value)
    if unit == "req/s":
        return f"{value:.1f} req/s"
    return f"{value:g}"


def goal_rows(loads: Mapping[str, LoadResult],
              figures: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(goal, measured, verdict) for the origin and plan goals of issue 16."""
    rows: list[tuple[str, str, str]] = []

    def verdict(ok: bool, gap: str, *runs: LoadResult) -> str:
        errors = sum(run.errors for run in runs)
        if errors:  # a figure over error answers meets nothing
            return f"NOT met: {errors} errors in the run"
        return "met" if ok else f"NOT met: {gap}"

    read = loads.get("quintet:read-1")
    if read:
        rows.append((f"one-query read p50 <= {READ_P50_GOAL_MS:g} ms at 1 connection (ALB)",
                     _ms(read.p(50)),
                     verdict(read.p(50) <= READ_P50_GOAL_MS,
                             f"{read.p(50) - READ_P50_GOAL_MS:.1f} ms over", read)))
    fan1 = loads.get("quintet:fanout-1")
    if fan1:
        limit = FANOUT_FLOOR_MS * 1.1
        rows.append((f"fan-out p50 within 10 % of its {FANOUT_FLOOR_MS:.0f} ms floor "
                     f"(<= {limit:.0f} ms)", _ms(fan1.p(50)),
                     verdict(fan1.p(50) <= limit,
                             f"{fan1.p(50) / FANOUT_FLOOR_MS * 100 - 100:.0f} % over the floor",
                             fan1)))
    fan20, sync20 = loads.get("quintet:fanout-20"), loads.get("quintet:fanout_sync-20")
    if fan20:
        rows.append((f"fan-out at 20 connections >= {FANOUT_RPS_GOAL:.0f} req/s (80 % of the "
                     "100 req/s floor)", f"{fan20.rps:.1f} req/s",
                     verdict(fan20.rps >= FANOUT_RPS_GOAL,
                             f"{fan20.rps / FANOUT_RPS_GOAL * 100:.0f} % of the goal", fan20)))
    if fan20 and sync20:
        factor = fan20.rps / max(sync20.rps, 1e-9)
        rows.append((f"fan-out at 20 connections >= {FANOUT_SYNC_FACTOR_GOAL:g}x the sync "
                     "variant", f"{factor:.1f}x ({fan20.rps:.1f} vs {sync20.rps:.1f} req/s)",
                     verdict(factor >= FANOUT_SYNC_FACTOR_GOAL,
                             f"{factor:.1f}x, where 3.0x is the ceiling (three calls in turn "
                             "against one round of them), with each route near its own floor",
                             fan20, sync20)))
    rows += _plan_goal_rows(figures.get("plan"), verdict)
    return rows


def _plan_goal_rows(plan: Mapping[str, Any] | None,
                    verdict: Callable[[bool, str], str]) -> list[tuple[str, str, str]]:
    if not plan:
        return []
    rows = []
    together = plan["together_s"]
    if together is None:
        rows.append(("offline plan of the shipped stacks", "failed", "NOT met: the plan failed"))
    else:
        per_stack = together / plan["stacks"]
        rows.append((f"`make plan STACK=\"dev staging prod\"` (one process) <= "
                     f"{PLAN_SECONDS_GOAL:g} s per stack", f"{per_stack:.1f} s per stack "
                     f"({together:.1f} s for {plan['stacks']}: the imports are paid once)",
                     verdict(per_stack <= PLAN_SECONDS_GOAL,
                             f"{per_stack - PLAN_SECONDS_GOAL:.1f} s over")))
    for stack, seconds in plan["alone_s"].items():
        if seconds is None:
            rows.append((f"`make plan STACK={stack}` alone", "failed", "NOT met: the plan failed"))
            continue
        rows.append((f"`make plan STACK={stack}` alone <= {PLAN_SECONDS_GOAL:g} s",
                     f"{seconds:.1f} s", verdict(seconds <= PLAN_SECONDS_GOAL,
                                                 f"{seconds - PLAN_SECONDS_GOAL:.1f} s over")))
    return rows


def report_markdown(started: str, loads: Mapping[str, LoadResult],
                    figures: Mapping[str, Any]) -> str:
    """The whole report as Markdown."""
    load_rows = ["| side | path-connections | tool | p50 | p95 | p99 | req/s | errors | "
                 "generator (busiest thread, % of a core) |",
                 "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    load_rows += [_load_row(key, load) for key, load in loads.items()]
    ratios = ["| figure | quintet | peer | quintet ÷ peer | quintet better by |",
              "|---|---:|---:|---:|---:|"]
    for row in ratio_rows(loads, figures):
        ratios.append(f"| {row['figure']} | {_num(row['quintet'], row['unit'])} | "
                      f"{_num(row['peer'], row['unit'])} | {row['ratio']:.2f} | "
                      f"{row['win']:.2f}x |")
    goals = ["| goal | measured | verdict |", "|---|---|---|"]
    goals += [f"| {g} | {m} | {v} |" for g, m, v in goal_rows(loads, figures)]
    hit, age = figures.get("hit_ratio", {}), figures.get("queue_age", {})
    box = figures.get("outbox", {})
    sq, sp = figures.get("stampede:quintet", {}), figures.get("stampede:peer", {})
    tq, tp = figures.get("storm:quintet", {}), figures.get("storm:peer", {})
    p95_age = age.get("p95_ms")
    age_text = f"{p95_age / 1000:.2f} s" if p95_age is not None else "no samples"
    load_start, load_end = figures.get("loadavg_start", "?"), figures.get("loadavg_end", "?")
    lines = [
        "# quintet bench: quintet beside its peer (local topology)", "",
        f"Run {started} in {figures.get('bench_seconds', '?')} s, loopback only, one 2-core "
        f"machine for the load generators and everything they load (load average "
        f"{load_start} at the start, {load_end} at the end: other work on the machine "
        "shows there). Closed loop, no think time: wrk for throughput and latency, locust for "
        "the scenario mix and the Zipf workload; each row names its tool and concurrency, and "
        "how close the generator's busiest thread came to saturating a core "
        f"(>= {GENERATOR_BOUND * 100:.0f} % is marked generator-bound).", "",
        "**quintet**: the local topology at the ALB (HAProxy, no cache) in front of "
        "uvicorn (ASGI) web processes, PgBouncer sidecar with a per-process psycopg pool, "
        "replica reads, single-flight cache. **peer**: the same app and the same number of "
        "processes under cookiecutter-django's production shape: gunicorn sync workers, "
        "`CONN_MAX_AGE=60` straight to the primary (no PgBouncer, no replica), "
        "`ATOMIC_REQUESTS=True`, `cache.get_or_set` (local/peer/), behind an ALB of its own "
        "(a second HAProxy with the same settings), so both sides pay the same hop.",
        "",
        "## quintet ÷ peer", "", *ratios, "",
        "## Goals (issue 16)", "", *goals, "",
        "## Every load run", "", *load_rows, "",
        "![latency distributions, quintet vs peer](latency.png)", "",
        "## Patterns", "",
        "| figure | measured |", "|---|---|",
        f"| stampede, {sq.get('concurrency')} concurrent requests per cold key | quintet max "
        f"{sq.get('max_rebuilds')} rebuild(s) (mean {sq.get('mean_rebuilds', 0):.1f}, "
        f"{sq.get('ok')}/{sq.get('requests')} 200s); peer max {sp.get('max_rebuilds')} "
        f"(mean {sp.get('mean_rebuilds', 0):.1f}, {sp.get('ok')}/{sp.get('requests')} 200s) |",
        f"| {tq.get('clients')}-client connection storm (each holds a connection, 10 ms "
        f"queries) | quintet through PgBouncer: {tq.get('peak_backends')} backends, "
        f"{tq.get('refused')} refused, {tq.get('transactions')} queries; peer straight to "
        f"Postgres: {tp.get('peak_backends')} backends, {tp.get('refused')} refused, "
        f"{tp.get('transactions')} queries |",
        f"| app cache hit ratio, Zipf(s={hit.get('s')}) over {hit.get('keys')} feeds (locust) | "
        f"{hit.get('ratio', 0) * 100:.1f} % warm ({hit.get('rebuilds')} rebuilds / "
        f"{hit.get('requests')} requests); {hit.get('cold_ratio', 0) * 100:.1f} % in the cold "
        f"phase before it |",
        f"| priority queue age p95 while `low` holds a backlog | {age_text} "
        f"({age.get('samples', 0)} sign-up emails; low backlog {age.get('backlog_start')} -> "
        f"{age.get('backlog_end')}) |",
        f"| outbox relay lag (oldest unsent message) over {box.get('signups')} sign-ups | "
        f"p50 {box.get('p50_s', 0) * 1000:.0f} ms, max {box.get('max_s', 0) * 1000:.0f} ms |",
        "",
        "![priority queue age](queue_age.png)", "",
        "Reading the figures: with two cores shared by the generators, nginx, the web "
        "processes, Postgres, PgBouncer and Redis, throughput figures are a floor, not a "
        "capacity; ratios between the two sides, measured minutes apart under the same load, "
        "are the comparison. The peer's stampede is bounded by its concurrency (a sync worker "
        "serves one request at a time), not by a lock: a fleet of them stampedes once per "
        "worker.", "",
    ]
    return "\n".join(lines)


def docs_markdown(report: str) -> str:
    """docs/benchmarks.md: the last report's figures (the plots stay in build/bench/)."""
    body = "\n".join(line for line in report.splitlines() if not line.startswith("!["))
    return ("<!-- Written by `make bench` (local/bench.py): the figures of the last run, kept "
            "so that a change that slows a path shows up in review. Plots: build/bench/. -->\n"
            + body.replace("# quintet bench:", "# Benchmarks:", 1) + "\n")


def plot_latency(loads: Mapping[str, LoadResult], path: Path) -> None:
    """Latency distribution (percentile curves) per path, quintet vs peer, one panel each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(PLOTTED_PATHS), figsize=(4 * len(PLOTTED_PATHS), 4))
    for axis, name in zip(axes, PLOTTED_PATHS, strict=True):
        for side, style in (("quintet", "-"), ("peer", "--")):
            load = loads.get(f"{side}:{name}")
            if load is None:
                continue
            xs = sorted(load.percentiles)
            axis.plot(xs, [load.p(x) for x in xs], style, marker="o", markersize=3,
                      label=f"{side} ({load.rps:.0f} req/s)")
        axis.set_title(name.replace("-", " @ c"))
        axis.set_xlabel("percentile")
        axis.set_yscale("log")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=7)
    axes[0].set_ylabel("latency (ms, log)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_queue_age(age: Mapping[str, Any], backlog: int, path: Path) -> None:
    """The priority queue-age distribution behind the low backlog."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axis = plt.subplots(figsize=(5, 3.5))
    samples = age.get("all_ms", [])
    if samples:
        axis.plot([100 * (i + 1) / len(samples) for i in range(len(samples))], samples,
                  marker=".")
        axis.axhline(5000, color="red", linestyle=":", linewidth=1, label="article: 5 s")
        axis.legend(fontsize=7)
    axis.set_title(f"priority queue age, low backlog {backlog}")
    axis.set_xlabel("percentile")
    axis.set_ylabel("ms")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
