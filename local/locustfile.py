"""Locust users for `make bench`: the scenario mix and the Zipf workload (wrk does the rest).

Run by local/loadgen.py as `locust -f local/locustfile.py --headless ... <UserClass>`; the host
(the ALB) and the scenario's data come from the bench through the environment.
"""

from __future__ import annotations

import itertools
import os
import random

from locust import HttpUser, constant, task

ORDER = {"email": "bench@example.com", "amount_cents": 1999}


def zipf_ranks(n: int, s: float, seed: int = 7) -> list[int]:
    """An endless-enough stream of 1-based ranks drawn from Zipf(s) over n keys."""
    weights = [1 / (k ** s) for k in range(1, n + 1)]
    rng = random.Random(seed)
    return rng.choices(range(1, n + 1), weights=weights, k=200_000)


class ScenarioMix(HttpUser):
    """A reader's visit at the origin: feeds (app cache), an article (one query), a checkout."""

    wait_time = constant(0)

    @task(5)
    def home(self) -> None:
        """GET / (the cached homepage feed)."""
        self.client.get("/", name="mix /")

    @task(3)
    def section(self) -> None:
        """GET a hot section feed (Zipf rank 1-10)."""
        rank = random.randint(1, 10)
        self.client.get(f"/sections/{os.environ['BENCH_ZIPF_PREFIX']}-{rank}/",
                        name="mix /sections/<slug>/")

    @task(3)
    def article(self) -> None:
        """GET one article (uncached, one query)."""
        self.client.get(f"/articles/{os.environ['BENCH_SLUG']}/", name="mix /articles/<slug>/")

    @task(1)
    def checkout(self) -> None:
        """POST the fanned-out checkout preparation."""
        self.client.post("/api/checkout/prepare/", json=ORDER, name="mix checkout")


_ranks = itertools.cycle(zipf_ranks(int(os.environ.get("BENCH_ZIPF_KEYS", "1000")),
                                    float(os.environ.get("BENCH_ZIPF_S", "1.1"))))


class ZipfFeed(HttpUser):
    """Section feeds at the origin, keys drawn from a Zipf distribution (the app cache's path)."""

    wait_time = constant(0)

    @task
    def feed(self) -> None:
        """GET /sections/<prefix>-<rank>/ through the ALB."""
        prefix = os.environ["BENCH_ZIPF_PREFIX"]
        self.client.get(f"/sections/{prefix}-{next(_ranks)}/", name="origin zipf feed")
