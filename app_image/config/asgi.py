"""ASGI entry point served by uvicorn (`entrypoint.sh web`); also serves the pod's metrics."""

import os

from django.core.asgi import get_asgi_application
from django.urls import get_resolver

from config.metrics_server import metrics_serve_when_free
from config.pgbouncer_metrics import PgBouncerCollector

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
application = get_asgi_application()
# Import every view (DRF, knox, the services) now, while the worker starts, rather than in the
# first request it serves after passing its probes (which then paid the imports: about 1 s).
get_resolver().url_patterns  # noqa: B018
# Every uvicorn worker imports this module; one of them wins METRICS_PORT (multiprocess mode).
metrics_serve_when_free(extra=[PgBouncerCollector()])
