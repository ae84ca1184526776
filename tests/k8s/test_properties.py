"""Properties of every stack's objects: resources, probes and hardening on every container;
placement on the right pools; who owns replica counts; drains; the connection budget."""

from __future__ import annotations

import ssl
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from k8s import pgbouncer
from k8s.meta import READINESS_GATE_LABEL
from k8s.migrate import BOOTSTRAP_JOB_NAME
from k8s.pgbouncer import CA_BUNDLE_PATH, pool_size_of
from k8s.quantities import parse_cpu, parse_memory
from k8s.web import DRAIN_SECONDS
from k8s.workers import WORKER_HEALTH_COMMAND
from offline.stack_files import read_stack_config
from stacks.connections import connection_budget_for
from tests.k8s.conftest import SHIPPED_STACKS, groups_of, named, of_kind, pod_spec

WORKER_TAINT = ("quintet.io/pool", "workers", "NoSchedule")
# Probes each container must have, where it differs from all three: the outbox relay takes
# no traffic, so no readiness (its liveness reads the heartbeat it keeps); the Jobs run to
# completion and are watched by the Job controller and Pulumi's await, not by probes.
ALL_PROBES = ("startupProbe", "readinessProbe", "livenessProbe")
PROBES_WANTED = {
    ("Deployment", "relay", "relay"): ("startupProbe", "livenessProbe"),
    ("Job", "migrate", "migrate"): (),
    ("Job", "db-bootstrap", "db-bootstrap"): (),
}


def workloads(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Deployments and Jobs."""
    return of_kind(objects, "Deployment") + of_kind(objects, "Job")


def database_workloads(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The workloads that use Postgres (Flower reads only the broker: no PgBouncer)."""
    return [o for o in workloads(objects) if o["metadata"]["name"] != "flower"]


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """Init (sidecar) and main containers of a workload."""
    spec = pod_spec(obj)
    return spec.get("initContainers", []) + spec["containers"]


def tolerates_worker_taint(pod: dict[str, Any]) -> bool:
    """True when the pod tolerates quintet.io/pool=workers:NoSchedule."""
    key, value, effect = WORKER_TAINT
    return any(
        t.get("key") == key and t.get("effect") in (effect, None)
        and (t.get("operator") == "Exists" or t.get("value") == value)
        for t in pod.get("tolerations", [])
    )


def disruptions_allowed(pdb_spec: dict[str, Any], replicas: int) -> int:
    """Pods a PDB lets an eviction take when ``replicas`` pods are healthy."""
    if "maxUnavailable" in pdb_spec:
        return min(int(pdb_spec["maxUnavailable"]), replicas)
    return replicas - int(pdb_spec["minAvailable"])


def scaler_targets(objects: list[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    """Deployment name -> (min, max) replicas, for every HPA and ScaledObject."""
    found = {}
    for hpa in of_kind(objects, "HorizontalPodAutoscaler"):
        spec = hpa["spec"]
        found[spec["scaleTargetRef"]["name"]] = (spec["minReplicas"], spec["maxReplicas"])
    for scaled in of_kind(objects, "ScaledObject"):
        spec = scaled["spec"]
        found[spec["scaleTargetRef"]["name"]] = (spec["minReplicaCount"], spec["maxReplicaCount"])
    return found


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_every_container_has_resources_and_hardening(stack, stack_objects) -> None:
    _, objects = stack_objects(stack)
    for obj in workloads(objects):
        pod = pod_spec(obj)
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for c in containers(obj):
            where = f"{obj['kind']}/{obj['metadata']['name']}/{c['name']}"
            res = c["resources"]
            for kind, parse in (("cpu", parse_cpu), ("memory", parse_memory)):
                assert parse(res["requests"][kind]) <= parse(res["limits"][kind]), where
            ctx = c["securityContext"]
            assert ctx["runAsNonRoot"] is True, where
            assert ctx["readOnlyRootFilesystem"] is True, where
            assert ctx["allowPrivilegeEscalation"] is False, where
            assert ctx["capabilities"] == {"drop": ["ALL"]}, where
            assert ctx["seccompProfile"] == {"type": "RuntimeDefault"}, where


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_every_long_running_container_has_probes(stack, stack_objects) -> None:
    _, objects = stack_objects(stack)
    for obj in workloads(objects):
        for c in containers(obj):
            key = (obj["kind"], obj["metadata"]["name"], c["name"])
            where = "/".join(key)
            for probe in PROBES_WANTED.get(key, ALL_PROBES):
                assert probe in c, f"{where} has no {probe}"


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_beat_readiness_reads_the_heartbeat_like_its_liveness(stack, stack_objects) -> None:
    # A readiness probe that always passed would satisfy a scanner and mean nothing: beat is
    # Ready only while its scheduler's heartbeat is fresh, the same check liveness makes.
    _, objects = stack_objects(stack)
    beat = pod_spec(named(objects, "Deployment", "beat"))["containers"][0]
    assert beat["readinessProbe"]["exec"] == beat["livenessProbe"]["exec"]
    assert beat["readinessProbe"]["exec"]["command"] == list(WORKER_HEALTH_COMMAND)


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_every_pod_behind_a_target_group_binding_gets_the_readiness_gate(stack, stack_objects):
    # The controller injects the gate into a pod when its namespace carries the label and (with
    # the chart's object selector, components.cluster_software) the pod does too, and a
    # TargetGroupBinding's Service selects it.
    _, objects = stack_objects(stack)
    namespaces = {n["metadata"]["name"]: n for n in of_kind(objects, "Namespace")}
    gated = []
    for binding in of_kind(objects, "TargetGroupBinding"):
        assert binding["spec"]["targetType"] == "ip"  # gates exist for ip targets only
        service = named(objects, "Service", binding["spec"]["serviceRef"]["name"])
        for obj in workloads(objects):
            pod_labels = obj["spec"]["template"]["metadata"]["labels"]
            if obj["metadata"]["namespace"] != binding["metadata"]["namespace"]:
                continue
            if not _selects(service["spec"]["selector"], pod_labels):
                continue
            where = f"{obj['kind']}/{obj['metadata']['name']}"
            namespace = namespaces[obj["metadata"]["namespace"]]
            assert namespace["metadata"]["labels"].get(READINESS_GATE_LABEL) == "enabled", where
            assert pod_labels.get(READINESS_GATE_LABEL) == "enabled", where
            gated.append(where)
    assert gated == ["Deployment/web"]


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_web_probes_use_the_app_paths(stack, stack_objects) -> None:
    _, objects = stack_objects(stack)
    app = pod_spec(named(objects, "Deployment", "web"))["containers"][0]
    # Readiness and startup: this pod can serve (never the deep /healthz report, which fails
    # with any shared dependency and would take every pod out at once).
    assert app["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert app["startupProbe"]["httpGet"]["path"] == "/readyz"
    assert app["livenessProbe"]["httpGet"]["path"] == "/livez"


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_workers_run_on_the_worker_pool_and_web_never_does(stack, stack_objects) -> None:
    _, objects = stack_objects(stack)
    web = pod_spec(named(objects, "Deployment", "web"))
    assert web["nodeSelector"] == {"quintet.io/pool": "web"}
    assert not tolerates_worker_taint(web)
    celery = [d for d in of_kind(objects, "Deployment") if d["metadata"]["name"] != "web"]
    assert {d["metadata"]["name"] for d in celery} == {
        "worker-default", "worker-priority", "worker-low", "beat", "relay", "flower"
    }
    for deployment in celery:
        pod = pod_spec(deployment)
        assert tolerates_worker_taint(pod), deployment["metadata"]["name"]
        assert pod["nodeSelector"] == {"quintet.io/pool": "workers"}


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_no_replicas_where_a_scaler_owns_the_count(stack, stack_objects) -> None:
    _, objects = stack_objects(stack)
    targets = scaler_targets(objects)
    assert set(targets) == {"web", "worker-default", "worker-priority", "worker-low"}
    for deployment in of_kind(objects, "Deployment"):
        name = deployment["metadata"]["name"]
        if name in targets:
            assert "replicas" not in deployment["spec"], name


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_beat_is_one_replica_recreated_and_never_scaled(stack, stack_objects) -> None:
    _, objects = stack_objects(stack)
    beat = named(objects, "Deployment", "beat")
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    assert "beat" not in scaler_targets(objects)
    assert pod_spec(beat)["containers"][0]["args"] == ["beat"]


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_the_outbox_relay_is_one_replica_never_scaled(stack, stack_objects) -> None:
    _, objects = stack_objects(stack)
    relay = named(objects, "Deployment", "relay")
    assert relay["spec"]["replicas"] == 1  # SKIP LOCKED batches make an overlap safe, not useful
    assert "relay" not in scaler_targets(objects)
    assert pod_spec(relay)["containers"][0]["args"] == ["relay"]
    assert pod_spec(relay)["serviceAccountName"] == "relay"


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_every_pdb_allows_a_drain_at_the_minimum(stack, stack_objects) -> None:
    _, objects = stack_objects(stack)
    targets = scaler_targets(objects)
    pdbs = of_kind(objects, "PodDisruptionBudget")
    assert pdbs
    for pdb in pdbs:
        selected = pdb["spec"]["selector"]["matchLabels"]
        (deployment,) = [
            d for d in of_kind(objects, "Deployment")
            if selected.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        minimum = targets[deployment["metadata"]["name"]][0]
        assert disruptions_allowed(pdb["spec"], minimum) >= 1, pdb["metadata"]["name"]


def test_the_drain_check_would_catch_a_blocking_pdb() -> None:
    assert disruptions_allowed({"minAvailable": 3}, 3) == 0
    assert disruptions_allowed({"maxUnavailable": 1}, 1) == 1


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_termination_grace_covers_the_shutdown(stack, stack_objects) -> None:
    settings, objects = stack_objects(stack)
    web = pod_spec(named(objects, "Deployment", "web"))
    sleep = web["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert sleep == settings.workloads.web_pre_stop_sleep_seconds
    assert web["terminationGracePeriodSeconds"] > sleep + DRAIN_SECONDS
    for queue, spec in settings.workloads.queues.items():
        pod = pod_spec(named(objects, "Deployment", f"worker-{queue}"))
        assert pod["terminationGracePeriodSeconds"] >= spec.hard_time_limit_seconds


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_every_pod_reaches_postgres_through_its_own_pgbouncer(stack, stack_objects) -> None:
    _, objects = stack_objects(stack)
    for obj in database_workloads(objects):
        if obj["metadata"]["name"] == BOOTSTRAP_JOB_NAME:
            # Straight to the primary: a PgBouncer would need the master in its userlist.
            assert pod_spec(obj)["initContainers"] == []
            continue
        sidecars = [c for c in pod_spec(obj)["initContainers"] if c["name"] == "pgbouncer"]
        assert len(sidecars) == 1 and sidecars[0]["restartPolicy"] == "Always"
        group = obj["metadata"]["name"]
        ini = named(objects, "ConfigMap", f"pgbouncer-{group}")["data"]["pgbouncer.ini"]
        lines = {line.replace(" ", "") for line in ini.splitlines()}
        for expected in ("pool_mode=transaction", "listen_addr=127.0.0.1", "listen_port=6432",
                         "server_tls_sslmode=verify-full",
                         "ignore_startup_parameters=extra_float_digits"):
            assert expected in lines, f"{group}: {expected}"


def _ini_value(ini: str, key: str) -> str:
    for line in ini.splitlines():
        name, _, value = line.partition("=")
        if name.strip() == key:
            return value.strip()
    raise AssertionError(f"pgbouncer.ini has no {key}")


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_every_pgbouncer_verifies_rds_against_the_mounted_bundle(stack, stack_objects) -> None:
    # verify-full checks the chain and the endpoint's name; it needs the CA file where the ini
    # says, from a volume of the ConfigMap that holds the repository's bundle.
    _, objects = stack_objects(stack)
    region = read_stack_config(stack).values["aws:region"]
    for obj in database_workloads(objects):
        group = obj["metadata"]["name"]
        if group == BOOTSTRAP_JOB_NAME:
            continue  # no PgBouncer: test_bootstrap_verifies_the_primary_against_the_bundle
        ini = named(objects, "ConfigMap", f"pgbouncer-{group}")["data"]["pgbouncer.ini"]
        assert _ini_value(ini, "server_tls_sslmode") == "verify-full", group
        ca_file = PurePosixPath(_ini_value(ini, "server_tls_ca_file"))
        (sidecar,) = [c for c in pod_spec(obj)["initContainers"] if c["name"] == "pgbouncer"]
        (mount,) = [m for m in sidecar["volumeMounts"] if m["mountPath"] == str(ca_file.parent)]
        (volume,) = [v for v in pod_spec(obj)["volumes"] if v["name"] == mount["name"]]
        bundle = named(objects, "ConfigMap", volume["configMap"]["name"])["data"][ca_file.name]
        assert bundle == CA_BUNDLE_PATH.read_text(), group
    roots = {
        dict(part[0] for part in cert["subject"])["commonName"]
        for cert in ssl.create_default_context(cadata=bundle).get_ca_certs()
    }
    # RDS's default CA for new instances is rds-ca-rsa2048-g1; its root for the region is there.
    assert f"Amazon RDS {region} Root CA RSA2048 G1" in roots


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_bootstrap_verifies_the_primary_against_the_bundle(stack, stack_objects) -> None:
    # The one pod that connects straight to RDS carries the master password: its URL must
    # verify the endpoint (verify-full) against the bundle mounted where the URL points.
    _, objects = stack_objects(stack)
    job = named(objects, "Job", BOOTSTRAP_JOB_NAME)
    (app,) = pod_spec(job)["containers"]
    secrets = {ref["secretRef"]["name"] for ref in app["envFrom"] if "secretRef" in ref}
    (env,) = [o for o in of_kind(objects, "Secret")
              if o["metadata"]["name"] in secrets and "DATABASE_MASTER_URL" in o["stringData"]]
    query = parse_qs(urlsplit(env["stringData"]["DATABASE_MASTER_URL"]).query)
    assert query["sslmode"] == ["verify-full"]
    ca_file = PurePosixPath(query["sslrootcert"][0])
    (mount,) = [m for m in app["volumeMounts"] if m["mountPath"] == str(ca_file.parent)]
    (volume,) = [v for v in pod_spec(job)["volumes"] if v["name"] == mount["name"]]
    bundle = named(objects, "ConfigMap", volume["configMap"]["name"])["data"][ca_file.name]
    assert bundle == CA_BUNDLE_PATH.read_text()


def test_a_new_bundle_rolls_every_pod_that_mounts_it(tmp_path, monkeypatch) -> None:
    # PgBouncer reads the CA file at start: pods must restart to trust a replaced bundle.
    def hashes() -> dict[str, str]:
        return {
            o["metadata"]["name"]: o["spec"]["template"]["metadata"]["annotations"][
                "quintet.io/config-hash"
            ]
            for group in groups_of("dev").values()
            for o in group
            # Flower has no PgBouncer and mounts no bundle.
            if o["kind"] in ("Deployment", "Job") and o["metadata"]["name"] != "flower"
        }

    before = hashes()
    end = "-----END CERTIFICATE-----\n"
    smaller = tmp_path / "bundle.pem"
    smaller.write_text(CA_BUNDLE_PATH.read_text().split(end)[0] + end)
    monkeypatch.setattr(pgbouncer, "CA_BUNDLE_PATH", smaller)
    after = hashes()
    assert before.keys() == after.keys()
    assert all(before[name] != after[name] for name in before)


def test_a_bundle_file_without_certificates_is_a_clear_error(tmp_path, monkeypatch) -> None:
    empty = tmp_path / "bundle.pem"
    empty.write_text("not a certificate\n")
    monkeypatch.setattr(pgbouncer, "CA_BUNDLE_PATH", empty)
    with pytest.raises(ValueError, match="holds no PEM certificate; put AWS's RDS bundle there"):
        pgbouncer.ca_bundle()


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_pgbouncer_pools_at_maximum_scale_fit_max_connections(stack, stack_objects) -> None:
    """Server connections each database instance can receive, counted from the rendered objects
    (pool size from each pgbouncer.ini times the pods at their maximum), fit the budget the data
    tier sets ``max_connections`` from, leaving Postgres's superuser reserve free."""
    settings, objects = stack_objects(stack)
    maxima = {name: high for name, (_, high) in scaler_targets(objects).items()}
    total = 0
    for obj in database_workloads(objects):
        name = obj["metadata"]["name"]
        if name == BOOTSTRAP_JOB_NAME:
            continue  # one short connection before the rollout, inside the headroom
        pods = maxima.get(name, obj["spec"].get("replicas", obj["spec"].get("parallelism", 1)))
        ini = named(objects, "ConfigMap", f"pgbouncer-{name}")["data"]["pgbouncer.ini"]
        total += pods * pool_size_of(ini)
    budget = connection_budget_for(settings)
    assert total <= budget.max_connections - budget.superuser_reserved, (
        f"{stack}: {total} pooled connections vs max_connections {budget.max_connections}"
    )
    assert total == budget.app, "the rendered pools and the budget formula disagree"


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_network_policies_deny_by_default_and_admit_only_the_lb_to_web(stack, stack_objects):
    settings, objects = stack_objects(stack)
    policies = {p["metadata"]["name"]: p["spec"] for p in of_kind(objects, "NetworkPolicy")}
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    ingress = policies["web-ingress"]["ingress"]
    sources = {peer["ipBlock"]["cidr"] for rule in ingress for peer in rule["from"]}
    assert len(sources) == settings.network.az_count
    assert all(cidr.startswith(settings.network.cidr.rsplit(".", 2)[0]) for cidr in sources)
    admitting = [p for p in policies.values() if "ingress" in p]
    # Workers, beat, Flower and the Job admit nothing but Prometheus on the metrics port.
    assert admitting == [policies["web-ingress"], policies["metrics-ingress"]]
    scrape = policies["metrics-ingress"]
    assert scrape["podSelector"] == {} and scrape["ingress"] == [{
        "from": [{"namespaceSelector": {"matchLabels": {
            "kubernetes.io/metadata.name": "monitoring"}}}],
        "ports": [{"protocol": "TCP", "port": 9400}]}]
    egress_ports = {
        port["port"] for rule in policies["app-egress"]["egress"] for port in rule["ports"]
    }
    assert egress_ports == {53, 5432, 6379, 443, 80}
    # Port 80 only to the Pod Identity agent: the SDK's credentials for the uploads bucket.
    [agent] = [r for r in policies["app-egress"]["egress"]
               if any(p["port"] == 80 for p in r["ports"])]
    assert agent["to"] == [{"ipBlock": {"cidr": "169.254.170.23/32"}}]


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_each_worker_pool_sets_its_queues_statement_timeout_and_web_keeps_the_roles(
    stack, stack_objects
) -> None:
    settings, objects = stack_objects(stack)
    for queue, spec in settings.workloads.queues.items():
        ini = named(objects, "ConfigMap", f"pgbouncer-worker-{queue}")["data"]["pgbouncer.ini"]
        wanted = f"connect_query='SET statement_timeout = {spec.hard_time_limit_seconds * 1000}'"
        entries = [line for line in ini.splitlines() if " = host=" in line]
        assert entries and all(line.endswith(wanted) for line in entries), (queue, entries)
    for group in ("web", "beat", "relay", "migrate"):
        ini = named(objects, "ConfigMap", f"pgbouncer-{group}")["data"]["pgbouncer.ini"]
        assert "connect_query" not in ini, group  # the role's own (web) or none (migrations)
