"""Load generators of `make bench`: wrk (closed-loop throughput and latency) and locust (mixes).

Each run also measures the load generator itself: the CPU its busiest thread used, as a
fraction of one core, read from /proc while it runs. A figure whose generator came near 100 %
measures the generator, not the system under test, and the report says so.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from local.topology import ROOT, TopologyError

LOCUSTFILE = ROOT / "local" / "locustfile.py"
LOCUST = Path(sys.executable).parent / "locust"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
WRK_PERCENTILES = (1, 5, 10, 25, 50, 75, 90, 95, 99, 99.9)
LOCUST_PERCENTILES = ("50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "99.9%")

# wrk's Lua hooks: a method/body/headers per request and, at the end, the latency distribution
# as JSON (wrk's own --latency prints only four percentiles).
WRK_SCRIPT = """
local out_path = os.getenv("WRK_OUT")
local pcts = {@PCTS@}
wrk.method = os.getenv("WRK_METHOD") or "GET"
local body = os.getenv("WRK_BODY")
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end
wrk.headers["X-Forwarded-Proto"] = "https"

done = function(summary, latency, requests)
  local f = io.open(out_path, "w")
  local e = summary.errors
  f:write(string.format('{"requests": %d, "duration_us": %d, "bytes": %d, ', summary.requests,
          summary.duration, summary.bytes))
  f:write(string.format('"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, '
          .. '"timeout": %d}, ', e.connect, e.read, e.write, e.status, e.timeout))
  f:write(string.format('"mean_us": %f, "max_us": %d, "percentiles_us": {', latency.mean,
          latency.max))
  for i, p in ipairs(pcts) do
    if i > 1 then f:write(", ") end
    f:write(string.format('"%s": %d', tostring(p), latency:percentile(p)))
  end
  f:write("}}")
  f:close()
end
""".replace("@PCTS@", ", ".join(str(p) for p in WRK_PERCENTILES))


@dataclass
class LoadResult:
    """One load run: who measured it, how, and what came out (ms, req/s)."""

    name: str
    tool: str
    connections: int
    seconds: float
    requests: int
    errors: int
    rps: float
    percentiles: dict[float, float]
    """Percentile (0-100) -> latency in ms."""
    generator_core: float
    """The load generator's busiest thread, as a fraction of one core (1.0 = saturated)."""
    generator_cores: float
    """The load generator's whole process, in cores."""
    extra: dict[str, object] = field(default_factory=dict)

    def p(self, percentile: float) -> float:
        """Latency at `percentile` in ms."""
        return self.percentiles[percentile]

    def as_dict(self) -> dict[str, object]:
        """Plain data for figures.json."""
        return {"name": self.name, "tool": self.tool, "connections": self.connections,
                "seconds": self.seconds, "requests": self.requests, "errors": self.errors,
                "rps": round(self.rps, 1),
                "percentiles_ms": {str(k): round(v, 3) for k, v in self.percentiles.items()},
                "generator_core": round(self.generator_core, 3),
                "generator_cores": round(self.generator_cores, 3)}


class CpuSampler:
    """Samples a process's per-thread CPU ticks from /proc until stopped."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid = pid
        self.interval = interval
        self._first: tuple[float, dict[str, int]] | None = None
        self._last: tuple[float, dict[str, int]] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> CpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _ticks(self) -> dict[str, int]:
        ticks: dict[str, int] = {}
        for task in Path(f"/proc/{self.pid}/task").iterdir():
            # Fields after the parenthesised command name: utime and stime are 14th and 15th.
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            ticks[task.name] = int(fields[11]) + int(fields[12])
        return ticks

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                sample = (time.monotonic(), self._ticks())
            except (FileNotFoundError, ProcessLookupError, IndexError):
                return  # the process ended
            if self._first is None:
                self._first = sample
            self._last = sample
            self._stop.wait(self.interval)

    def usage(self) -> tuple[float, float]:
        """(busiest thread, whole process) CPU over the sampled span, in cores."""
        if self._first is None or self._last is None or self._last[0] <= self._first[0]:
            return 0.0, 0.0
        span = self._last[0] - self._first[0]
        first, last = self._first[1], self._last[1]
        per_thread = [(last[t] - first.get(t, 0)) / CLOCK_TICKS / span for t in last]
        return max(per_thread, default=0.0), sum(per_thread)


def wrk_available() -> bool:
    """True when the wrk binary is on PATH."""
    return shutil.which("wrk") is not None


def wrk(url: str, *, name: str, out_dir: Path, connections: int, seconds: float,
        threads: int | None = None, method: str = "GET", body: str = "") -> LoadResult:
    """One closed-loop wrk run against `url`; its latency distribution comes from Lua."""
    if not wrk_available():
        raise TopologyError("wrk is not installed: run `make bootstrap` (Debian package wrk)")
    script = out_dir / "wrk-report.lua"
    script.write_text(WRK_SCRIPT)
    result_file = out_dir / f"wrk-{name}.json"
    result_file.unlink(missing_ok=True)
    threads = threads or min(2, connections)
    argv = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds:g}s",
            "--timeout", "10s", "-s", str(script), url]
    env = {**os.environ, "WRK_OUT": str(result_file), "WRK_METHOD": method, "WRK_BODY": body}
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    with CpuSampler(proc.pid) as sampler:
        stdout, stderr = proc.communicate(timeout=seconds + 30)
    if proc.returncode != 0 or not result_file.exists():
        raise TopologyError(f"wrk {name} failed: {(stderr or stdout).strip()[-400:]}")
    data = json.loads(result_file.read_text())
    duration = data["duration_us"] / 1e6
    errors = sum(int(v) for v in data["errors"].values())
    core, cores = sampler.usage()
    return LoadResult(
        name=name, tool=f"wrk -t{threads} -c{connections}", connections=connections,
        seconds=duration, requests=int(data["requests"]), errors=errors,
        rps=data["requests"] / max(duration, 1e-9),
        percentiles={float(k): v / 1000 for k, v in data["percentiles_us"].items()},
        generator_core=core, generator_cores=cores,
    )


def locust(user: str, *, host: str, name: str, out_dir: Path, users: int, seconds: int,
           env: dict[str, str] | None = None) -> LoadResult:
    """One headless locust run of the user class `user`; reads its aggregated CSV row."""
    prefix = out_dir / name
    argv = [str(LOCUST), "-f", str(LOCUSTFILE), "--headless", "--only-summary",
            "-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--host", host,
            "--csv", str(prefix), "--loglevel", "ERROR", "--stop-timeout", "5", user]
    proc = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with CpuSampler(proc.pid) as sampler:
        _, stderr = proc.communicate(timeout=seconds + 60)
    stats = Path(f"{prefix}_stats.csv")
    if not stats.exists():
        raise TopologyError(f"locust {user} wrote no stats: {stderr.strip()[-600:]}")
    with stats.open() as handle:
        row = next(r for r in csv.DictReader(handle) if r["Name"] == "Aggregated")
    core, cores = sampler.usage()
    return LoadResult(
        name=name, tool=f"locust -u{users}", connections=users, seconds=seconds,
        requests=int(row["Request Count"]), errors=int(row["Failure Count"]),
        rps=float(row["Requests/s"]),
        percentiles={float(p.rstrip("%")): float(row[p]) for p in LOCUST_PERCENTILES
                     if row.get(p) not in (None, "N/A")},
        generator_core=core, generator_cores=cores,
    )
