"""Probes: /livez (the process answers) and /healthz (dependencies, for readiness)."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from health.checks import health_report


@never_cache
def livez(request: HttpRequest) -> JsonResponse:
    """200 while the process can answer; checks nothing external."""
    return JsonResponse({"status": "ok"})


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """200 with detail when every dependency answers, else 503 naming what failed."""
    report = health_report()
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)
