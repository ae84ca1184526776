"""Probes: /livez (the process answers), /readyz (this pod can serve), /healthz (deep report).

What each means and what each failure does to a user: docs/app.md, "Probes".
"""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from health.checks import health_report
from health.readiness import readiness, sidecar_answers


@never_cache
def livez(request: HttpRequest) -> JsonResponse:
    """200 while the process can answer; no I/O at all."""
    return JsonResponse({"status": "ok"})


def readyz_response(body: dict[str, object]) -> JsonResponse:
    """The /readyz answer for a readiness body: 200 when ready, else 503."""
    response = JsonResponse(body, status=200 if body["status"] == "ok" else 503)
    response["Cache-Control"] = "no-store"
    return response


def readyz(request: HttpRequest) -> JsonResponse:
    """200 when warmed and the pod's own PgBouncer answers; shared dependencies never count."""
    return readyz_response(readiness(sidecar_ok=sidecar_answers()))


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when every dependency answers, else 503 naming what failed (for monitors only)."""
    report = health_report()
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)
