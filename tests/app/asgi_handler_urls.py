"""URLs for test_asgi_handler: views that report or pair up the threads they run on."""

from __future__ import annotations

import asyncio
import sys
import threading

import sentry_sdk
from asgiref.sync import sync_to_async
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.urls import path

PAIR = threading.Barrier(2, timeout=10)
"""Two requests wait here for each other: they pass only if they run at the same time."""
HOLD_STARTED = threading.Event()
"""Set once the held view runs."""
HOLD_RELEASE = threading.Event()
"""The held view returns once this is set."""


BACKGROUND: list[asyncio.Task[int]] = []
"""Tasks started by the background view: one inherits the request's context, one does not."""
REQUEST_ENDED = asyncio.Event()
"""Set by the test once the background view's request has ended."""


async def _ident_after_request() -> int:
    await REQUEST_ENDED.wait()
    return await sync_to_async(threading.get_ident)()


async def background(request: HttpRequest) -> HttpResponse:
    """Start two tasks that make a thread-sensitive call after this request has ended."""
    from config.asgi_handler import task_outliving_request

    BACKGROUND[:] = [asyncio.create_task(_ident_after_request()),
                     task_outliving_request(_ident_after_request())]
    return HttpResponse("started")


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
               path("async-callers", async_callers), path("background", background)]
