"""Production settings: base plus the HTTPS posture behind Cloudflare and the ALB."""

from config.settings.base import *  # noqa: F403

# TLS ends at the ALB; it forwards the original scheme.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = True
# Kubelet probes speak plain HTTP to the pod.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^livez$"]
SECURE_HSTS_SECONDS = 365 * 24 * 3600
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
READ_YOUR_WRITES_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Submitting the domain to the HSTS preload list is an organisation's decision, not the app's.
SILENCED_SYSTEM_CHECKS = ["security.W021"]
