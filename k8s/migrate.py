"""The database Jobs: ``bootstrap`` (the roles, as master) then ``migrate`` (the schema, as
the migrations role), both run before any Deployment rolls."""

from __future__ import annotations

from typing import Any

from k8s import pgbouncer
from k8s.meta import BOOTSTRAP_SECRET, MIGRATE_SECRET, metadata
from k8s.pods import app_container, pod_template, worker_placement
from k8s.spec import Resources, Runtime, WorkloadSpec

JOB_NAME = pgbouncer.MIGRATE_GROUP
BOOTSTRAP_JOB_NAME = "db-bootstrap"
SERVICE_ACCOUNT = "migrate"
RESOURCES = Resources("250m", "1", "512Mi", "512Mi")
DEADLINE_SECONDS = 1800


def job(spec: WorkloadSpec, runtime: Runtime, config_hash: str) -> dict[str, Any]:
    """Applies migrations to the primary through the pod's PgBouncer (the native sidecar ends
    when the migration does, so the Job completes). A Job is immutable: a new image replaces it,
    which runs the migrations of that image."""
    app = app_container(JOB_NAME, runtime.image, ["migrate"], RESOURCES,
                        extra_secrets=(MIGRATE_SECRET,))
    template = pod_template(
        spec,
        JOB_NAME,
        service_account=SERVICE_ACCOUNT,
        containers=[app],
        init_containers=[pgbouncer.sidecar(spec)],
        volumes=pgbouncer.volumes(JOB_NAME),
        annotations={"quintet.io/config-hash": config_hash},
        restartPolicy="Never",
        **worker_placement(),
    )
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata(spec, JOB_NAME, JOB_NAME),
        "spec": {
            "backoffLimit": 2,
            "activeDeadlineSeconds": DEADLINE_SECONDS,
            "template": template,
        },
    }


def bootstrap_job(spec: WorkloadSpec, runtime: Runtime, config_hash: str) -> dict[str, Any]:
    """Creates or updates the database roles as the master user (process type ``bootstrap``),
    straight to the primary over verified TLS: no PgBouncer, which would need the master in its
    userlist. The only pod that gets the master password."""
    app = app_container(BOOTSTRAP_JOB_NAME, runtime.image, ["bootstrap"], RESOURCES,
                        extra_secrets=(BOOTSTRAP_SECRET,))
    # The master URL verifies the endpoint against the RDS bundle (verify-full), as PgBouncer
    # does for every other pod: the master password goes only to the real primary.
    app["volumeMounts"].append(
        {"name": "rds-ca", "mountPath": pgbouncer.CA_DIR, "readOnly": True})
    template = pod_template(
        spec,
        BOOTSTRAP_JOB_NAME,
        service_account=SERVICE_ACCOUNT,
        containers=[app],
        init_containers=[],
        volumes=[{"name": "rds-ca",
                  "configMap": {"name": pgbouncer.CA_CONFIGMAP, "defaultMode": 0o444}}],
        annotations={"quintet.io/config-hash": config_hash},
        restartPolicy="Never",
        **worker_placement(),
    )
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata(spec, BOOTSTRAP_JOB_NAME, BOOTSTRAP_JOB_NAME),
        "spec": {"backoffLimit": 2, "activeDeadlineSeconds": 600, "template": template},
    }
