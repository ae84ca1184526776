"""`make slo`: the SLO table (each SLO, its target, the measured value, pass or fail), read from
the local Prometheus with the same queries as the dashboards (k8s.alerts.SLOS).

A measure with no data (no traffic yet, or no task on that queue) is reported as such, never as
a pass.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import httpx

from k8s.alerts import SLOS, Slo
from local.topology import Topology, TopologyError


@dataclass(frozen=True)
class SloRow:
    """One line of the table."""

    slo: Slo
    measured: float | None

    @property
    def verdict(self) -> str:
        """`pass`, `FAIL` or `no data`."""
        if self.measured is None:
            return "no data"
        ok = self.measured < self.slo.target if self.slo.op == "<" else (
            self.measured > self.slo.target)
        return "pass" if ok else "FAIL"


def _figure(slo: Slo, value: float | None) -> str:
    if value is None:
        return "-"
    if slo.unit != "s":
        return f"{value * 100:.1f} %"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


def slo_query(prometheus_url: str, expr: str) -> float | None:
    """The single value of `expr` now, None when it has no data."""
    response = httpx.get(f"{prometheus_url}/api/v1/query", params={"query": expr}, timeout=10)
    response.raise_for_status()
    result = response.json()["data"]["result"]
    if not result:
        return None
    value = float(result[0]["value"][1])
    return None if math.isnan(value) or math.isinf(value) else value


def slo_rows(prometheus_url: str) -> list[SloRow]:
    """Every SLO measured now."""
    return [SloRow(slo, slo_query(prometheus_url, slo.measure)) for slo in SLOS]


def slo_table(rows: list[SloRow]) -> str:
    """The table as plain text."""
    lines = [f"{'SLO':<36} {'target':>10} {'measured':>10}  verdict", "-" * 68]
    for row in rows:
        target = f"{row.slo.op} {_figure(row.slo, row.slo.target)}"
        lines.append(f"{row.slo.name:<36} {target:>10} {_figure(row.slo, row.measured):>10}"
                     f"  {row.verdict}")
    return "\n".join(lines)


def slo_markdown(prometheus_url: str) -> str:
    """The table as a Markdown section (the bench report appends it)."""
    try:
        rows = slo_rows(prometheus_url)
    except httpx.HTTPError as error:
        return f"\n## SLOs (from Prometheus)\n\nPrometheus did not answer: {error}\n"
    lines = ["", "## SLOs (from Prometheus, last 5 minutes)", "",
             "| SLO | target | measured | verdict |", "|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row.slo.name} | {row.slo.op} {_figure(row.slo, row.slo.target)} | "
                     f"{_figure(row.slo, row.measured)} | {row.verdict} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    """Print the SLO table of the running local topology."""
    topology = Topology.from_env()
    try:
        rows = slo_rows(topology.prometheus_url)
    except httpx.HTTPError as error:
        print(f"quintet slo: Prometheus at {topology.prometheus_url} did not answer ({error}); "
              "is `make up` running?", file=sys.stderr)
        return 1
    except TopologyError as error:
        print(f"quintet slo: {error}", file=sys.stderr)
        return 1
    print(slo_table(rows))
    print(f"\nmeasured over the last 5 minutes by {topology.prometheus_url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
