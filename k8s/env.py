"""The app's environment (the contract in app_image/environment.json), from the spec, runtime
values and secrets. Non-secret variables go to the ConfigMap, secret ones to the Secret."""

from __future__ import annotations

from urllib.parse import quote

from k8s.meta import RDS_CA_FILE
from k8s.spec import (
    APP_PORT,
    METRICS_PORT,
    PGBOUNCER_PORT,
    POSTGRES_PORT,
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
    "UPLOADS_BUCKET",
    "UPLOADS_REGION",
    "UPLOADS_MAX_BYTES",
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
MIGRATE_VARIABLES = ("DATABASE_MIGRATE_URL",)
"""Secret variables only the migrate Job gets (the migrations role)."""
BOOTSTRAP_VARIABLES = ("DATABASE_MASTER_URL", "DATABASE_MIGRATE_URL")
"""Secret variables only the bootstrap Job gets (the master user, to create the roles)."""
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
        "UPLOADS_BUCKET": spec.uploads_bucket,
        "UPLOADS_REGION": spec.uploads_region,
        "UPLOADS_MAX_BYTES": str(spec.uploads_max_bytes),
    }


def redis_url(host: str, token: str) -> str:
    """A Redis URL with TLS (ElastiCache in-transit encryption) and AUTH when a token is set."""
    auth = f":{quote(token, safe='')}@" if token else ""
    return f"rediss://{auth}{host}:{REDIS_PORT}/0"


def postgres_url(user: str, password: str, database: str) -> str:
    """A URL to the pod's own PgBouncer on loopback; PgBouncer adds TLS to RDS."""
    return (f"postgres://{quote(user, safe='')}:{quote(password, safe='')}"
            f"@127.0.0.1:{PGBOUNCER_PORT}/{database}")


def secret_env(spec: WorkloadSpec, runtime: Runtime, secrets: SecretValues) -> dict[str, str]:
    """The app Secret's data: the variables carrying credentials (the app and read-only roles,
    never the master or the migrations role)."""
    replicas = [
        postgres_url(spec.database_readonly_user, secrets.database_readonly_password,
                     replica_database(spec, i))
        for i in range(spec.replica_count)
    ]
    return {
        "DJANGO_SECRET_KEY": secrets.django_secret_key,
        "DATABASE_URL": postgres_url(spec.database_user, secrets.database_password,
                                     spec.database_name),
        "DATABASE_REPLICA_URLS": ",".join(replicas),
        "CACHE_URL": redis_url(runtime.cache_host, secrets.cache_auth_token),
        "BROKER_URL": redis_url(runtime.broker_host, secrets.broker_auth_token),
        "SENTRY_DSN": secrets.sentry_dsn,
        "FLOWER_BASIC_AUTH": secrets.flower_basic_auth,
    }


def migrate_env(spec: WorkloadSpec, secrets: SecretValues) -> dict[str, str]:
    """The migrate Job's extra Secret: the migrations role, through the Job's PgBouncer."""
    return {"DATABASE_MIGRATE_URL": postgres_url(
        spec.database_migrate_user, secrets.database_migrate_password, spec.database_name)}


def bootstrap_env(spec: WorkloadSpec, runtime: Runtime, secrets: SecretValues) -> dict[str, str]:
    """The bootstrap Job's extra Secret: the master user straight to the primary (TLS,
    verify-full against the RDS bundle), and the migrations role it creates.
    The app and read-only roles come from the app Secret."""
    user = quote(spec.database_master_user, safe="")
    password = quote(secrets.database_master_password, safe="")
    master = (f"postgres://{user}:{password}@{runtime.database_host}:{POSTGRES_PORT}/"
              f"{spec.database_name}?sslmode=verify-full&sslrootcert={RDS_CA_FILE}")
    return {"DATABASE_MASTER_URL": master, **migrate_env(spec, secrets)}
