"""PgBouncer as a native sidecar: its configuration and its container.

Every pod that talks to Postgres runs its own PgBouncer on 127.0.0.1:6432 in transaction mode,
so the server connections a pod can open are bounded by its pool size, whatever the app does.
The app role is a `stats_users` entry: the app's metrics port reads `SHOW POOLS` from it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from k8s.env import replica_database
from k8s.meta import (
    PGBOUNCER_AUTH_SECRET,
    PGBOUNCER_MIGRATE_AUTH_SECRET,
    RDS_CA_CONFIGMAP,
    RDS_CA_DIR,
    RDS_CA_FILE,
    RDS_CA_KEY,
)
from k8s.pods import container_security_context
from k8s.spec import PGBOUNCER_PORT, POSTGRES_PORT, Runtime, SecretValues, WorkloadSpec

MIGRATE_GROUP = "migrate"  # k8s.migrate.JOB_NAME (that module imports this one)
CONFIG_DIR = "/etc/pgbouncer"
AUTH_DIR = "/etc/pgbouncer-auth"  # beside, not inside, the read-only config mount
CA_DIR, CA_CONFIGMAP, CA_KEY, CA_FILE = RDS_CA_DIR, RDS_CA_CONFIGMAP, RDS_CA_KEY, RDS_CA_FILE
CA_BUNDLE_PATH = Path(__file__).resolve().parent / "certs" / "rds-global-bundle.pem"
"""AWS's RDS certificate bundle, the one input of server certificate verification: replace this
file to trust other roots (k8s/certs/SOURCE.md says where it comes from)."""
RESOURCES = {
    "requests": {"cpu": "50m", "memory": "32Mi"},
    "limits": {"cpu": "500m", "memory": "64Mi"},
}


def config_name(group: str) -> str:
    """Name of the ConfigMap holding one workload group's pgbouncer.ini."""
    return f"pgbouncer-{group}"


def ca_bundle() -> str:
    """The RDS CA bundle's PEM text; raises ValueError when the file holds no certificate."""
    try:
        text = CA_BUNDLE_PATH.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as bad:
        raise ValueError(f"cannot read the RDS CA bundle {CA_BUNDLE_PATH}: {bad}") from None
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise ValueError(
            f"{CA_BUNDLE_PATH} holds no PEM certificate; put AWS's RDS bundle there "
            "(https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem)"
        )
    return text


def ini(
    spec: WorkloadSpec, runtime: Runtime, pool_size: int, statement_timeout_ms: int | None = None
) -> str:
    """pgbouncer.ini for a pod whose PgBouncer opens at most ``pool_size`` connections per
    database: the primary as ``<db>`` and each replica as ``<db>_replica_<i>``.

    Server connections verify the RDS certificate against the mounted bundle and the host name
    (``verify-full``): with ``require`` anything answering on the endpoint's address would do.
    ``statement_timeout_ms`` overrides the role's timeout (the web's) on every server connection
    of this pod (a worker pool's queue runs longer statements). The pod's PgBouncer serves only
    this pod, so the session setting never reaches another process type.
    """
    hosts = [(spec.database_name, runtime.database_host)] + [
        (replica_database(spec, i), host) for i, host in enumerate(runtime.database_replica_hosts)
    ]
    query = (
        f" connect_query='SET statement_timeout = {int(statement_timeout_ms)}'"
        if statement_timeout_ms is not None else ""
    )
    databases = "\n".join(
        f"{alias} = host={host} port={POSTGRES_PORT} dbname={spec.database_name}{query}"
        for alias, host in hosts
    )
    return f"""[databases]
{databases}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {PGBOUNCER_PORT}
unix_socket_dir =
pidfile =
logfile =
auth_type = scram-sha-256
auth_file = {AUTH_DIR}/userlist.txt
pool_mode = transaction
stats_users = {spec.database_user}
default_pool_size = {pool_size}
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = {spec.pgbouncer_max_client_conn}
ignore_startup_parameters = extra_float_digits
server_tls_sslmode = verify-full
server_tls_ca_file = {CA_FILE}
server_idle_timeout = 300
server_connect_timeout = 5
query_wait_timeout = 30
"""


def pool_size_of(ini_text: str) -> int:
    """The ``default_pool_size`` of a rendered pgbouncer.ini (for the connection budget test)."""
    for line in ini_text.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "default_pool_size":
            return int(value)
    raise ValueError("pgbouncer.ini has no default_pool_size")


def _userlist(users: list[tuple[str, str]]) -> str:
    return "".join(f'"{user}" "{password.replace(chr(34), chr(34) * 2)}"\n'
                   for user, password in users)


def userlist(spec: WorkloadSpec, secrets: SecretValues) -> str:
    """userlist.txt of the app's pods: the app and read-only roles' passwords, used for client
    auth and the login to RDS."""
    return _userlist([(spec.database_user, secrets.database_password),
                      (spec.database_readonly_user, secrets.database_readonly_password)])


def migrate_userlist(spec: WorkloadSpec, secrets: SecretValues) -> str:
    """userlist.txt of the migrate Job: the migrations role only."""
    return _userlist([(spec.database_migrate_user, secrets.database_migrate_password)])


def sidecar(spec: WorkloadSpec) -> dict[str, Any]:
    """The PgBouncer container, as a native sidecar (an init container that keeps running)."""
    tcp = {"tcpSocket": {"port": PGBOUNCER_PORT}}
    return {
        "name": "pgbouncer",
        "image": spec.pgbouncer_image,
        "restartPolicy": "Always",
        "command": ["pgbouncer", f"{CONFIG_DIR}/pgbouncer.ini"],
        "ports": [{"name": "pgbouncer", "containerPort": PGBOUNCER_PORT}],
        # The app container starts only once the sidecar's startup probe passes.
        "startupProbe": {**tcp, "periodSeconds": 1, "failureThreshold": 30},
        "readinessProbe": {**tcp, "periodSeconds": 5},
        "livenessProbe": {**tcp, "periodSeconds": 10, "failureThreshold": 3},
        "resources": RESOURCES,
        "securityContext": container_security_context(),
        "volumeMounts": [
            {"name": "pgbouncer-config", "mountPath": CONFIG_DIR, "readOnly": True},
            {"name": "pgbouncer-auth", "mountPath": AUTH_DIR, "readOnly": True},
            {"name": "rds-ca", "mountPath": CA_DIR, "readOnly": True},
        ],
    }


def auth_secret(group: str) -> str:
    """The userlist Secret of a workload group: the migrate Job has its own role."""
    return PGBOUNCER_MIGRATE_AUTH_SECRET if group == MIGRATE_GROUP else PGBOUNCER_AUTH_SECRET


def volumes(group: str) -> list[dict[str, Any]]:
    """The pod volumes the sidecar mounts."""
    return [
        {
            "name": "pgbouncer-config",
            "configMap": {"name": config_name(group), "defaultMode": 0o444},
        },
        {
            "name": "pgbouncer-auth",
            "secret": {"secretName": auth_secret(group), "defaultMode": 0o440},
        },
        {"name": "rds-ca", "configMap": {"name": CA_CONFIGMAP, "defaultMode": 0o444}},
    ]
