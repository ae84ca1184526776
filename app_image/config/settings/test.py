"""Test settings: production over plain-HTTP loopback (no TLS redirect, non-secure cookies)."""

from config.settings.production import *  # noqa: F403

SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
READ_YOUR_WRITES_COOKIE_SECURE = False

# django-zeal (a developer requirement, never in the image): any request of the test suite,
# served or in-process, that loads a relation row by row raises NPlusOneError, so the request
# fails and so does the test behind it.
INSTALLED_APPS = [*INSTALLED_APPS, "zeal"]  # noqa: F405
MIDDLEWARE = ["zeal.middleware.zeal_middleware", *MIDDLEWARE]  # noqa: F405
ZEAL_RAISE = True
