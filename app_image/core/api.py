"""The JSON API base: JSON bodies only, and errors that name the field and never leak internals."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView, exception_handler

JSON = "application/json"
ERROR_CONTENT_TYPE = f"Content-Type must be {JSON}"
ERROR_BAD_JSON = "the request body is not valid JSON"
ERROR_INVALID = "invalid input: see fields"
BODY_METHODS = ("POST", "PUT", "PATCH")


class JsonApi(APIView):
    """An APIView whose writes take a JSON body, and only that (415 otherwise).

    A cross-site HTML form can send form-encoded or text/plain bodies but not application/json
    (that needs a CORS preflight), so requiring it is one more wall against CSRF.
    """

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        """Authenticate and authorize first (401/403 say nothing about the body), then 415."""
        super().initial(request, *args, **kwargs)
        if request.method in BODY_METHODS and request.content_type.split(";")[0].strip() != JSON:
            raise exceptions.UnsupportedMediaType(request.content_type,
                                                  detail=ERROR_CONTENT_TYPE)


def _message(detail: Any) -> str:
    if isinstance(detail, list):
        return " ".join(str(item) for item in detail)
    return str(detail)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler with one body shape: {"error": ..., "fields": {name: [messages]}}."""
    response = exception_handler(exc, context)
    if response is None:
        return None  # not an API error: Django's plain 500, never a traceback (DEBUG is off)
    if isinstance(exc, exceptions.ValidationError) and isinstance(exc.detail, dict):
        response.data = {"error": ERROR_INVALID, "fields": exc.detail}
    elif isinstance(exc, exceptions.ParseError):
        response.data = {"error": ERROR_BAD_JSON}  # not the parser's own text
    elif isinstance(exc, exceptions.UnsupportedMediaType):
        # Also raised by the parser itself, when the session's CSRF check reads request.POST
        # of a form body: say what is allowed either way.
        response.data = {"error": ERROR_CONTENT_TYPE}
    elif isinstance(exc, exceptions.APIException):
        response.data = {"error": _message(exc.detail)}
    return response
