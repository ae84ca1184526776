"""Namespace, ServiceAccounts, the environment ConfigMap and Secrets, PgBouncer configs."""

from __future__ import annotations

from typing import Any

from k8s import pgbouncer
from k8s.env import bootstrap_env, config_env, migrate_env, secret_env
from k8s.meta import (
    APP,
    BOOTSTRAP_SECRET,
    BROKER_AUTH_SECRET,
    ENV_CONFIGMAP,
    ENV_SECRET,
    MIGRATE_SECRET,
    PGBOUNCER_AUTH_SECRET,
    PGBOUNCER_MIGRATE_AUTH_SECRET,
    READINESS_GATE_ON,
    labels,
    metadata,
)
from k8s.spec import Runtime, SecretValues, WorkloadSpec

SERVICE_ACCOUNTS = ("web", "worker", "beat", "relay", "flower", "migrate")


def namespace(spec: WorkloadSpec) -> dict[str, Any]:
    """The namespace, with the restricted Pod Security Standard enforced and the load balancer
    controller's readiness gates on: a rollout waits until new pods are healthy in the target
    group, so it never leaves only initial or draining targets behind the ALB."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": spec.namespace,
            "labels": {
                **labels(spec, "namespace"),
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest",
                **READINESS_GATE_ON,
            },
        },
    }


def service_account(spec: WorkloadSpec, name: str) -> dict[str, Any]:
    """One workload's identity. EKS Pod Identity needs no annotation: an association (an AWS
    resource) binds ``<namespace>/<name>`` to an IAM role."""
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": metadata(spec, name, name),
        "automountServiceAccountToken": False,
    }


def env_configmap(spec: WorkloadSpec) -> dict[str, Any]:
    """The non-secret part of the environment contract."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(spec, ENV_CONFIGMAP, APP),
        "data": config_env(spec),
    }


def pgbouncer_configmap(
    spec: WorkloadSpec,
    runtime: Runtime,
    group: str,
    pool_size: int,
    statement_timeout_ms: int | None = None,
) -> dict[str, Any]:
    """One workload group's pgbouncer.ini."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(spec, pgbouncer.config_name(group), group),
        "data": {"pgbouncer.ini": pgbouncer.ini(spec, runtime, pool_size, statement_timeout_ms)},
    }


def rds_ca_configmap(spec: WorkloadSpec) -> dict[str, Any]:
    """The RDS CA bundle every PgBouncer verifies the database's certificate with."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(spec, pgbouncer.CA_CONFIGMAP, APP),
        "data": {pgbouncer.CA_KEY: pgbouncer.ca_bundle()},
    }


def _secret(spec: WorkloadSpec, name: str, data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(spec, name, APP),
        "type": "Opaque",
        "stringData": data,
    }


def secrets(spec: WorkloadSpec, runtime: Runtime, values: SecretValues) -> list[dict[str, Any]]:
    """The Secrets: the app's credentials (app and read-only roles), PgBouncer's userlists,
    KEDA's broker password; the migrations role for the migrate Job and the master user for the
    bootstrap Job, each in a Secret only that Job mounts."""
    return [
        _secret(spec, ENV_SECRET, secret_env(spec, runtime, values)),
        _secret(spec, PGBOUNCER_AUTH_SECRET, {"userlist.txt": pgbouncer.userlist(spec, values)}),
        _secret(spec, PGBOUNCER_MIGRATE_AUTH_SECRET,
                {"userlist.txt": pgbouncer.migrate_userlist(spec, values)}),
        _secret(spec, MIGRATE_SECRET, migrate_env(spec, values)),
        _secret(spec, BOOTSTRAP_SECRET, bootstrap_env(spec, runtime, values)),
        _secret(spec, BROKER_AUTH_SECRET, {"password": values.broker_auth_token}),
    ]
