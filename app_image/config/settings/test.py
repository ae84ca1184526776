"""Test settings: production over plain-HTTP loopback (no TLS redirect, non-secure cookies)."""

from config.settings.production import *  # noqa: F403

SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
READ_YOUR_WRITES_COOKIE_SECURE = False
