"""The two contracts with the app image, read from its files (the kit imports no app code):
the environment contract (app_image/environment.json) and the process types (the `case`
labels of app_image/entrypoint.sh); plus the numbers the workloads take from the app."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from k8s.env import CONFIG_VARIABLES, SECRET_VARIABLES
from k8s.meta import ENV_CONFIGMAP, ENV_SECRET
from k8s.web import DRAIN_SECONDS
from k8s.workers import WORKER_HEALTH_COMMAND
from tests.k8s.conftest import SHIPPED_STACKS, named, of_kind, pod_spec

APP = Path(__file__).resolve().parents[2] / "app_image"
# Variables the kit supplies that the app's contract does not list yet; each is a request to
# the app. A test below fails once the app lists one, so the entry is removed here then.
PENDING_IN_APP: dict[str, str] = {}


def contract() -> dict[str, dict]:
    """environment.json by variable name."""
    return {v["name"]: v for v in json.loads((APP / "environment.json").read_text())}


def process_types() -> set[str]:
    """The `case` labels of entrypoint.sh (one per process type)."""
    text = (APP / "entrypoint.sh").read_text()
    body = text[text.index('case "${1:-}" in'):text.index("esac")]
    return {m.group(1) for m in re.finditer(r"^\s+([a-z][a-z-]*)\)", body, re.MULTILINE)}


def app_constant(relative: str, name: str) -> object:
    """A literal module-level constant of an app file, read with ast (never imported)."""
    tree = ast.parse((APP / relative).read_text())
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return ast.literal_eval(node.value)
    raise LookupError(f"{name} not found in app_image/{relative}")


def supplied(objects) -> dict[str, str]:
    """Every variable an app container gets, with where it comes from."""
    found: dict[str, str] = {}
    for key in named(objects, "ConfigMap", ENV_CONFIGMAP)["data"]:
        found[key] = "configmap"
    for key in named(objects, "Secret", ENV_SECRET)["stringData"]:
        assert key not in found, f"{key} is in both the ConfigMap and the Secret"
        found[key] = "secret"
    for obj in of_kind(objects, "Deployment") + of_kind(objects, "Job"):
        for container in pod_spec(obj)["containers"]:
            for var in container.get("env", []):
                found.setdefault(var["name"], "container")
    return found


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_every_required_variable_is_supplied_and_nothing_unknown(stack, stack_objects) -> None:
    _, objects = stack_objects(stack)
    app = contract()
    given = supplied(objects)
    missing = {name for name, v in app.items() if v["required"]} - set(given)
    assert not missing, f"the app requires {sorted(missing)}; the workloads do not supply them"
    unknown = set(given) - set(app) - set(PENDING_IN_APP)
    assert not unknown, f"supplied but not in environment.json: {sorted(unknown)}"


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_secret_variables_come_from_the_secret_and_others_from_the_configmap(
    stack, stack_objects
) -> None:
    _, objects = stack_objects(stack)
    app = contract()
    for name, source in supplied(objects).items():
        if name not in app:
            continue
        # Secrets only from the Secret; other values from the ConfigMap, or inline on the
        # container when they differ per workload (a worker's concurrency per queue).
        expected = {"secret"} if app[name]["secret"] else {"configmap", "container"}
        assert source in expected, f"{name} comes from the {source}; the app says {expected}"


def test_the_env_builder_lists_match_the_contract_flags() -> None:
    app = contract()
    assert {n for n in SECRET_VARIABLES if n in app} == {
        n for n in SECRET_VARIABLES if app.get(n, {}).get("secret")
    }
    assert not any(app[n]["secret"] for n in CONFIG_VARIABLES if n in app)


def test_pending_variables_are_still_pending() -> None:
    listed = set(PENDING_IN_APP) & set(contract())
    assert not listed, f"the app now lists {sorted(listed)}: drop them from PENDING_IN_APP"


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_every_process_type_launched_exists_in_the_entrypoint(stack, stack_objects) -> None:
    _, objects = stack_objects(stack)
    known = process_types()
    assert {"web", "worker", "beat", "relay", "flower", "bootstrap", "migrate", "check"} <= known
    launched = set()
    for obj in of_kind(objects, "Deployment") + of_kind(objects, "Job"):
        for container in pod_spec(obj)["containers"]:
            if container["name"] == "pgbouncer":
                continue
            launched.add(container["args"][0])
            assert container["args"][0] in known, obj["metadata"]["name"]
            assert "command" not in container, "the image's ENTRYPOINT must stay in charge"
    assert launched == {"web", "worker", "beat", "relay", "flower", "bootstrap", "migrate"}


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_worker_queues_and_time_limits_match_the_app(stack, stack_objects) -> None:
    settings, objects = stack_objects(stack)
    queues = app_constant("config/settings/celery.py", "CELERY_QUEUES")
    limits = app_constant("config/settings/celery.py", "CELERY_TIME_LIMITS")
    assert set(settings.workloads.queues) == set(queues)
    for queue in queues:
        worker = pod_spec(named(objects, "Deployment", f"worker-{queue}"))
        assert worker["containers"][0]["args"] == ["worker", queue]
        hard_limit = limits[queue][1]
        assert settings.workloads.queues[queue].hard_time_limit_seconds >= hard_limit, queue
        assert worker["terminationGracePeriodSeconds"] >= hard_limit, queue


def test_web_drain_matches_uvicorns_graceful_shutdown() -> None:
    text = (APP / "entrypoint.sh").read_text()
    match = re.search(r"--timeout-graceful-shutdown\s+(\d+)", text)
    assert match, "entrypoint.sh no longer sets uvicorn's --timeout-graceful-shutdown"
    assert int(match.group(1)) <= DRAIN_SECONDS


def test_worker_probe_runs_the_apps_health_module() -> None:
    module = WORKER_HEALTH_COMMAND[-1]
    assert WORKER_HEALTH_COMMAND[:2] == ["python", "-m"]
    assert (APP / (module.replace(".", "/") + ".py")).is_file(), module


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_the_app_trusts_forwarded_headers_only_from_the_load_balancer(stack, stack_objects) -> None:
    _, objects = stack_objects(stack)
    trusted = named(objects, "ConfigMap", ENV_CONFIGMAP)["data"]["FORWARDED_ALLOW_IPS"].split(",")
    ingress = named(objects, "NetworkPolicy", "web-ingress")["spec"]["ingress"][0]["from"]
    admitted = [rule["ipBlock"]["cidr"] for rule in ingress]
    assert trusted == admitted and "*" not in trusted, (trusted, admitted)
