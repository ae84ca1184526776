"""Prometheus in `make up`: Debian's prometheus on loopback, scraping every app process, with
the same rule groups as the cluster's PrometheusRule (k8s.alerts, written as a rule file).

State lives under the topology's state dir (data/prometheus); the config and the rule file are
rewritten by every `make up`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from k8s.alerts import rule_groups
from local.topology import Topology

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
SCRAPE_INTERVAL = "5s"  # shorter than the cluster's 15 s: a local run is minutes long
RETENTION = "7d"


def prometheus_dir(topology: Topology) -> Path:
    """Where the generated prometheus.yml and rules.yaml live."""
    return topology.run_dir / "prometheus"


def scrape_jobs(topology: Topology) -> list[dict]:
    """One job per process kind (web, workers, beat), every target on loopback."""
    by_job: dict[str, list[str]] = {}
    for process in topology.processes():
        port = topology.metrics_port(process.name)
        if port is None:
            continue
        job = "web" if process.name.startswith("web-") else (
            "workers" if process.name.startswith("worker-") else process.name)
        by_job.setdefault(job, []).append(f"127.0.0.1:{port}")
    jobs = [{"job_name": job, "static_configs": [{"targets": targets}]}
            for job, targets in by_job.items()]
    jobs.append({"job_name": "prometheus",
                 "static_configs": [{"targets": [f"127.0.0.1:{topology.prometheus_port}"]}]})
    return jobs


def prometheus_config(topology: Topology) -> dict:
    """prometheus.yml: loopback scrapes and the kit's rule file."""
    return {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
        "rule_files": [str(prometheus_dir(topology) / "rules.yaml")],
        "scrape_configs": scrape_jobs(topology),
    }


def prometheus_write(topology: Topology) -> None:
    """Write prometheus.yml and rules.yaml (the cluster's rule groups) for this topology."""
    folder = prometheus_dir(topology)
    folder.mkdir(parents=True, exist_ok=True)
    (topology.data_dir / "prometheus").mkdir(parents=True, exist_ok=True)
    (folder / "rules.yaml").write_text(yaml.safe_dump({"groups": rule_groups()}, sort_keys=False))
    (folder / "prometheus.yml").write_text(
        yaml.safe_dump(prometheus_config(topology), sort_keys=False))


def prometheus_command(topology: Topology) -> list[str]:
    """Prometheus on 127.0.0.1 only, its TSDB under the state dir."""
    return [PROMETHEUS, f"--config.file={prometheus_dir(topology) / 'prometheus.yml'}",
            f"--storage.tsdb.path={topology.data_dir / 'prometheus'}",
            f"--storage.tsdb.retention.time={RETENTION}",
            f"--web.listen-address=127.0.0.1:{topology.prometheus_port}"]
