"""Every object of every stack validates against the official Kubernetes schemas (strict: no
unknown field) for the cluster's version. KEDA's and the AWS Load Balancer Controller's
custom resources are not in kubernetes-validate's schemas: they are checked against the subset
of their CRD schemas the builders use (tests/k8s/crd_schemas.py), also without unknown fields."""

from __future__ import annotations

import copy

import jsonschema
import kubernetes_validate
import pytest
from kubernetes_validate.utils import all_versions

from tests.k8s.conftest import SHIPPED_STACKS, named, pod_spec
from tests.k8s.crd_schemas import CRD_SCHEMAS


def schema_version(cluster_version: str) -> str:
    """The newest schema version kubernetes-validate ships that is not newer than the cluster."""
    wanted = tuple(int(p) for p in cluster_version.split(".")[:2])
    usable = [v for v in all_versions() if tuple(int(p) for p in v.split(".")[:2]) <= wanted]
    if not usable:
        raise AssertionError(f"kubernetes-validate has no schemas for {cluster_version} or older")
    return usable[-1]


def validate(obj: dict, version: str) -> None:
    """Raises when ``obj`` does not validate (official schema or the CRD subset)."""
    crd = CRD_SCHEMAS.get((obj["apiVersion"], obj["kind"]))
    if crd is not None:
        jsonschema.Draft202012Validator(crd).validate(obj)
        return
    kubernetes_validate.validate(obj, version, strict=True)


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_every_object_validates_strictly(stack, stack_objects) -> None:
    settings, objects = stack_objects(stack)
    version = schema_version(settings.cluster.kubernetes_version)
    assert version.startswith(settings.cluster.kubernetes_version), (
        f"no schemas for {settings.cluster.kubernetes_version}; validated against {version}"
    )
    checked = 0
    for obj in objects:
        try:
            validate(obj, version)
        except (jsonschema.ValidationError, kubernetes_validate.ValidationError) as bad:
            raise AssertionError(
                f"{obj['kind']}/{obj['metadata']['name']} ({stack}): {bad.message} at "
                f"{'.'.join(str(p) for p in bad.absolute_path)}"
            ) from None
        checked += 1
    assert checked == len(objects) > 20


def test_schema_version_picks_the_closest_older() -> None:
    assert schema_version("1.33") == "1.33.0"
    newest = all_versions()[-1]
    assert schema_version("1.99") == newest


def test_strict_validation_catches_an_unknown_field(stack_objects) -> None:
    _, objects = stack_objects("dev")
    web = copy.deepcopy(named(objects, "Deployment", "web"))
    pod_spec(web)["containers"][0]["readinessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(web, "1.33")


def test_crd_check_catches_a_wrong_field(stack_objects) -> None:
    _, objects = stack_objects("dev")
    scaled = copy.deepcopy(named(objects, "ScaledObject", "worker-default"))
    scaled["spec"]["triggers"][0]["metadata"]["listLength"] = 20  # KEDA wants strings
    with pytest.raises(jsonschema.ValidationError):
        validate(scaled, "1.33")
    binding = copy.deepcopy(named(objects, "TargetGroupBinding", "web"))
    binding["spec"]["targetGroupArn"] = binding["spec"].pop("targetGroupARN")
    with pytest.raises(jsonschema.ValidationError):
        validate(binding, "1.33")
