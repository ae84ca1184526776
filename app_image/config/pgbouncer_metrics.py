"""PgBouncer pool use and the primary's connection count, read at scrape time.

The pod's own PgBouncer (the `default` database's host and port) answers `SHOW POOLS` and
`SHOW DATABASES` on its admin database `pgbouncer` to the app role (listed in `stats_users`); the
primary answers how many connections it holds against `max_connections`. A failed read yields
`quintet_pgbouncer_up 0` and no other sample: a scrape never fails because PgBouncer is down.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import psycopg
from django.conf import settings
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

POOL_COLUMNS = {
    "cl_active": "Client connections linked to a server connection or idle.",
    "cl_waiting": "Client connections waiting for a server connection.",
    "sv_active": "Server connections linked to a client.",
    "sv_idle": "Server connections idle and ready.",
    "sv_used": "Server connections idle past server_check_delay.",
    "sv_login": "Server connections logging in.",
}
CONNECT_TIMEOUT_SECONDS = 2


def _connect(database: Mapping[str, Any], *, dbname: str | None = None
             ) -> psycopg.Connection[Any]:
    return psycopg.connect(
        host=database["HOST"], port=database["PORT"], user=database["USER"],
        password=database["PASSWORD"], dbname=dbname or database["NAME"],
        connect_timeout=CONNECT_TIMEOUT_SECONDS, autocommit=True, prepare_threshold=None,
        # The admin console speaks the simple query protocol only.
        cursor_factory=psycopg.ClientCursor)


def _rows(conn: psycopg.Connection[Any], query: str) -> list[dict[str, Any]]:
    with conn.cursor() as cursor:
        cursor.execute(query)
        names = [column.name for column in cursor.description or []]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


class PgBouncerCollector(Collector):
    """Pool gauges per database of the pod's PgBouncer, and the primary's connections."""

    def __init__(self, *, database: Mapping[str, Any] | None = None) -> None:
        self.database = database or settings.DATABASES["default"]

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """One read of the admin console and of the primary per scrape."""
        up = GaugeMetricFamily("quintet_pgbouncer_up", "1 when the pod's PgBouncer answered.")
        try:
            with _connect(self.database, dbname="pgbouncer") as admin:
                pools = _rows(admin, "SHOW POOLS")
                databases = _rows(admin, "SHOW DATABASES")
        except psycopg.Error:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from self._pools(pools, databases)
        yield from self._primary()

    def _pools(self, pools: list[dict[str, Any]],
               databases: list[dict[str, Any]]) -> Iterator[GaugeMetricFamily]:
        for column, description in POOL_COLUMNS.items():
            family = GaugeMetricFamily(f"quintet_pgbouncer_{column}", description,
                                       labels=["database"])
            for pool in pools:
                if pool["database"] != "pgbouncer":
                    family.add_metric([pool["database"]], float(pool[column]))
            yield family
        wait = GaugeMetricFamily("quintet_pgbouncer_maxwait_seconds",
                                 "Age of the oldest waiting client.", labels=["database"])
        size = GaugeMetricFamily("quintet_pgbouncer_pool_size",
                                 "Server connections the pool may open.", labels=["database"])
        for pool in pools:
            if pool["database"] != "pgbouncer":
                micros = float(pool.get("maxwait_us") or 0) / 1e6
                wait.add_metric([pool["database"]], float(pool["maxwait"]) + micros)
        for database in databases:
            if database["name"] != "pgbouncer":
                size.add_metric([database["name"]], float(database["pool_size"]))
        yield wait
        yield size

    def _primary(self) -> Iterator[GaugeMetricFamily]:
        used = GaugeMetricFamily("quintet_database_connections",
                                 "Client connections the primary holds (all clients).")
        limit = GaugeMetricFamily("quintet_database_max_connections",
                                  "The primary's max_connections.")
        try:
            with _connect(self.database) as conn:
                count = _rows(conn, "SELECT count(*) AS n FROM pg_stat_activity "
                                    "WHERE backend_type = 'client backend'")[0]["n"]
                maximum = _rows(conn, "SHOW max_connections")[0]["max_connections"]
        except psycopg.Error:
            return
        used.add_metric([], float(count))
        limit.add_metric([], float(maximum))
        yield used
        yield limit
