"""ASGI entry point served by uvicorn (`entrypoint.sh web`).

Django answers HTTP only; this wrapper adds the ASGI lifespan: the process warms up before it
reports ready (/readyz) and closes the shared upstream client when it shuts down.
"""

import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
django_application = get_asgi_application()

from core.fanout import upstream_client_close  # noqa: E402  (needs Django set up)
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
            await upstream_client_close()
            await send({"type": "lifespan.shutdown.complete"})
            return
