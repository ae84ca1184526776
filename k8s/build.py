"""Every object of the workloads, grouped as ``make render`` writes them (one file per group)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from k8s import base, flower, migrate, monitoring, policies, relay, web, workers
from k8s.spec import Runtime, SecretValues, WorkloadSpec

# Server connections of the processes that run once: beat, the relay and the migrate Job.
SINGLETON_POOL_SIZE = 1


def pool_sizes(spec: WorkloadSpec) -> dict[str, int]:
    """PgBouncer ``default_pool_size`` per workload group. A worker pod needs no more server
    connections than its prefork children, each holding at most one."""
    sizes = {"web": spec.pgbouncer_pool_size}
    sizes.update({workers.worker_name(q): q.concurrency for q in spec.queues})
    sizes.update({"beat": SINGLETON_POOL_SIZE, relay.RELAY_NAME: SINGLETON_POOL_SIZE,
                  migrate.JOB_NAME: SINGLETON_POOL_SIZE})
    return sizes


def config_hash(*objects: dict[str, Any]) -> str:
    """A digest of non-secret config, put on pod templates so a config change rolls the pods."""
    text = json.dumps([o.get("data") for o in objects], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def build_groups(
    spec: WorkloadSpec, runtime: Runtime, secret_values: SecretValues
) -> dict[str, list[dict[str, Any]]]:
    """All objects, by workload group, in apply order within each group."""
    env = base.env_configmap(spec)
    ca = base.rds_ca_configmap(spec)
    pools = pool_sizes(spec)
    # Worker pools run statements up to their queue's hard time limit; the rest keep the app
    # role's timeout (the web's), set by the bootstrap.
    timeouts = {workers.worker_name(q): q.hard_time_limit_seconds * 1000 for q in spec.queues}
    bouncers = {
        group: base.pgbouncer_configmap(spec, runtime, group, size, timeouts.get(group))
        for group, size in pools.items()
    }

    def digest(group: str) -> str:
        return config_hash(env, ca, bouncers[group])

    groups: dict[str, list[dict[str, Any]]] = {
        "base": [
            base.namespace(spec),
            *(base.service_account(spec, name) for name in base.SERVICE_ACCOUNTS),
            env,
            ca,
            *base.secrets(spec, runtime, secret_values),
            workers.trigger_authentication(spec),
        ],
        "network-policies": policies.policies(spec),
        "migrate": [
            migrate.bootstrap_job(spec, runtime, config_hash(env, ca)),
            bouncers[migrate.JOB_NAME],
            migrate.job(spec, runtime, digest(migrate.JOB_NAME)),
        ],
        "web": [
            bouncers["web"],
            web.deployment(spec, runtime, digest("web")),
            web.service(spec),
            web.target_group_binding(spec, runtime),
            web.hpa(spec),
            web.pdb(spec),
        ],
    }
    for queue in spec.queues:
        name = workers.worker_name(queue)
        groups[name] = [
            bouncers[name],
            workers.worker_deployment(spec, queue, runtime, digest(name)),
            workers.scaled_object(spec, queue, runtime),
        ]
    groups["beat"] = [bouncers["beat"], workers.beat_deployment(spec, runtime, digest("beat"))]
    groups[relay.RELAY_NAME] = [
        bouncers[relay.RELAY_NAME],
        relay.relay_deployment(spec, runtime, digest(relay.RELAY_NAME)),
    ]
    groups["flower"] = [
        flower.deployment(spec, runtime.image, config_hash(env)),
        flower.service(spec),
    ]
    groups["monitoring"] = monitoring.monitoring_objects(spec)
    return groups


def build_objects(
    spec: WorkloadSpec, runtime: Runtime, secret_values: SecretValues
) -> list[dict[str, Any]]:
    """All objects as one list (groups in order)."""
    return [obj for group in build_groups(spec, runtime, secret_values).values() for obj in group]


def object_key(obj: dict[str, Any]) -> str:
    """``<kind>/<name>``, unique within the workloads."""
    return f"{obj['kind']}/{obj['metadata']['name']}"
