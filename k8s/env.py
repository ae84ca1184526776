"""The app's environment (the contract in app_image/environment.json), from the spec, runtime
values and secrets. Non-secret variables go to the ConfigMap, secret ones to the Secret."""

from __future__ import annotations

from urllib.parse import quote

from k8s.spec import (
    APP_PORT,
    METRICS_PORT,
    PGBOUNCER_PORT,
    REDIS_PORT,
    Runtime,
    SecretValues,
    WorkloadSpec,
)

# The variables the kit supplies, by where they come from. The contract test holds this to the
# app's environment.json: every required variable is here, nothing here is unknown to the app,
# and the secret ones are exactly those the app marks secret.
CONFIG_VARIABLES = (
    "DJANGO_ALLOWED_HOSTS",
    "UPSTREAM_SANCTIONS_URL",
    "UPSTREAM_FRAUD_URL",
    "UPSTREAM_ADDRESS_URL",
    "PORT",
    "WEB_CONCURRENCY",
    "LOG_LEVEL",
    "FORWARDED_ALLOW_IPS",
    "METRICS_PORT",
)
SECRET_VARIABLES = (
    "DJANGO_SECRET_KEY",
    "DATABASE_URL",
    "DATABASE_REPLICA_URLS",
    "CACHE_URL",
    "BROKER_URL",
    "SENTRY_DSN",
    "FLOWER_BASIC_AUTH",
)
REPLICA_DATABASE = "{name}_replica_{index}"


def replica_database(spec: WorkloadSpec, index: int) -> str:
    """The PgBouncer database name of one read replica."""
    return REPLICA_DATABASE.format(name=spec.database_name, index=index)


def config_env(spec: WorkloadSpec) -> dict[str, str]:
    """The ConfigMap's data: the non-secret variables."""
    return {
        "DJANGO_ALLOWED_HOSTS": ",".join(spec.allowed_hosts),
        **{name: spec.upstreams[name] for name in CONFIG_VARIABLES if name.startswith("UPSTREAM")},
        "PORT": str(APP_PORT),
        "WEB_CONCURRENCY": str(spec.web_concurrency),
        "LOG_LEVEL": spec.log_level,
        # Only the ALB (in these subnets; the web NetworkPolicy admits nothing else) may set
        # the client address and scheme through X-Forwarded-*.
        "FORWARDED_ALLOW_IPS": ",".join(spec.lb_cidrs),
        "METRICS_PORT": str(METRICS_PORT),
    }


def redis_url(host: str, token: str) -> str:
    """A Redis URL with TLS (ElastiCache in-transit encryption) and AUTH when a token is set."""
    auth = f":{quote(token, safe='')}@" if token else ""
    return f"rediss://{auth}{host}:{REDIS_PORT}/0"


def postgres_url(spec: WorkloadSpec, secrets: SecretValues, database: str) -> str:
    """A URL to the pod's own PgBouncer on loopback; PgBouncer adds TLS to RDS."""
    user = quote(spec.database_user, safe="")
    password = quote(secrets.database_password, safe="")
    return f"postgres://{user}:{password}@127.0.0.1:{PGBOUNCER_PORT}/{database}"


def secret_env(spec: WorkloadSpec, runtime: Runtime, secrets: SecretValues) -> dict[str, str]:
    """The Secret's data: the variables carrying credentials."""
    replicas = [
        postgres_url(spec, secrets, replica_database(spec, i)) for i in range(spec.replica_count)
    ]
    return {
        "DJANGO_SECRET_KEY": secrets.django_secret_key,
        "DATABASE_URL": postgres_url(spec, secrets, spec.database_name),
        "DATABASE_REPLICA_URLS": ",".join(replicas),
        "CACHE_URL": redis_url(runtime.cache_host, secrets.cache_auth_token),
        "BROKER_URL": redis_url(runtime.broker_host, secrets.broker_auth_token),
        "SENTRY_DSN": secrets.sentry_dsn,
        "FLOWER_BASIC_AUTH": secrets.flower_basic_auth,
    }
