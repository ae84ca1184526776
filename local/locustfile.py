"""Locust users for `make bench` (one class per scenario, chosen on the command line).

Run by local/bench.py as `locust -f local/locustfile.py --headless ... <UserClass>`; the host
(edge or ALB) and the scenario's data come from the bench through the environment.
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


class EdgePage(HttpUser):
    """Anonymous homepage through the edge (served from nginx's cache once warm)."""

    wait_time = constant(0)

    @task
    def page(self) -> None:
        """GET / through the edge."""
        self.client.get("/", name="edge /")


class OriginRead(HttpUser):
    """An article page at the origin (ALB): a database read on every request, no cache."""

    wait_time = constant(0)

    @task
    def article(self) -> None:
        """GET /articles/<slug>/ through the ALB."""
        self.client.get(f"/articles/{os.environ['BENCH_SLUG']}/", name="origin /articles/<slug>/")


class CheckoutAsync(HttpUser):
    """Checkout preparation: three upstream calls fanned out concurrently (async view)."""

    wait_time = constant(0)

    @task
    def prepare(self) -> None:
        """POST /api/checkout/prepare/."""
        self.client.post("/api/checkout/prepare/", json=ORDER, name="checkout async")


class CheckoutSync(HttpUser):
    """The same preparation calling the upstreams one after another (sync view)."""

    wait_time = constant(0)

    @task
    def prepare(self) -> None:
        """POST /api/checkout/prepare-sync/."""
        self.client.post("/api/checkout/prepare-sync/", json=ORDER, name="checkout sync")


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
