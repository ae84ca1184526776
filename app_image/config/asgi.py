"""ASGI entry point served by uvicorn (`entrypoint.sh web`); also serves the pod's metrics.

Django answers HTTP only; this wrapper adds the ASGI lifespan: the process warms up before it
reports ready (/readyz) and, where the server runs the lifespan protocol, closes the shared
upstream clients when it shuts down (`entrypoint.sh web` runs uvicorn with `--lifespan off`:
there the process exit closes their sockets).
"""

import os
from typing import Any

import django
from django.urls import get_resolver

from config.metrics_server import metrics_serve_when_free
from config.pgbouncer_metrics import PgBouncerCollector

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
django.setup(set_prefix=False)  # what get_asgi_application() does, before its handler

from config.asgi_handler import OneThreadHopASGIHandler  # noqa: E402  (needs Django set up)

django_application = OneThreadHopASGIHandler()
# Import every view (DRF, knox, the services) now, while the worker starts, rather than in the
# first request it serves after passing its probes (which then paid the imports: about 1 s).
get_resolver().url_patterns  # noqa: B018
# Every uvicorn worker imports this module; one of them wins METRICS_PORT (multiprocess mode).
metrics_serve_when_free(extra=[PgBouncerCollector()])

from core.fanout import upstream_clients_close  # noqa: E402  (needs Django set up)
from health.warmup import app_warm  # noqa: E402

app_warm()


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Django for HTTP; startup and shutdown for the lifespan protocol."""
    if scope["type"] != "lifespan":
        await django_application(scope, receive, send)
        return
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await upstream_clients_close()
            await send({"type": "lifespan.shutdown.complete"})
            return
