"""URLs for test_asgi_handler: views that report or pair up the threads they run on."""

from __future__ import annotations

import sys
import threading

from django.http import HttpRequest, HttpResponse
from django.urls import path

PAIR = threading.Barrier(2, timeout=10)
"""Two requests wait here for each other: they pass only if they run at the same time."""


def thread_ident(request: HttpRequest) -> HttpResponse:
    """The ident of the thread running this sync view."""
    return HttpResponse(str(threading.get_ident()))


def pair(request: HttpRequest) -> HttpResponse:
    """Wait for a second request at the barrier, then report the thread."""
    PAIR.wait()
    return HttpResponse(str(threading.get_ident()))


async def async_callers(request: HttpRequest) -> HttpResponse:
    """The names of the functions awaiting this async view, innermost first."""
    frame, names = sys._getframe().f_back, []
    while frame is not None:
        names.append(frame.f_code.co_name)
        frame = frame.f_back
    return HttpResponse(" ".join(names))


urlpatterns = [path("thread", thread_ident), path("pair", pair),
               path("async-callers", async_callers)]
