"""URLs for test_asgi_handler: views that report or pair up the threads they run on."""

from __future__ import annotations

import sys
import threading

import sentry_sdk
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.urls import path

PAIR = threading.Barrier(2, timeout=10)
"""Two requests wait here for each other: they pass only if they run at the same time."""
HOLD_STARTED = threading.Event()
"""Set once the held view runs."""
HOLD_RELEASE = threading.Event()
"""The held view returns once this is set."""


def thread_ident(request: HttpRequest) -> HttpResponse:
    """The ident of the thread running this sync view."""
    return HttpResponse(str(threading.get_ident()))


def pair(request: HttpRequest) -> HttpResponse:
    """Wait for a second request at the barrier, then report the thread."""
    PAIR.wait()
    return HttpResponse(str(threading.get_ident()))


def hold(request: HttpRequest) -> HttpResponse:
    """Keep the request's thread busy until the test releases it."""
    HOLD_STARTED.set()
    HOLD_RELEASE.wait(timeout=60)
    return HttpResponse(str(threading.get_ident()))


def transaction_left_open(request: HttpRequest) -> HttpResponse:
    """A buggy view: enters atomic() and never leaves it."""
    transaction.atomic().__enter__()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse(str(threading.get_ident()))


def boom(request: HttpRequest) -> HttpResponse:
    """Leave a breadcrumb naming this request, then fail (for the Sentry test)."""
    sentry_sdk.add_breadcrumb(message=f"marker {request.GET.get('n')}")
    raise RuntimeError("boom")


async def async_callers(request: HttpRequest) -> HttpResponse:
    """The names of the functions awaiting this async view, innermost first."""
    frame, names = sys._getframe().f_back, []
    while frame is not None:
        names.append(frame.f_code.co_name)
        frame = frame.f_back
    return HttpResponse(" ".join(names))


urlpatterns = [path("thread", thread_ident), path("pair", pair), path("hold", hold),
               path("transaction-left-open", transaction_left_open), path("boom", boom),
               path("async-callers", async_callers)]
