"""The EKS calendar in the kit: the default version is in standard support, pins follow the
version's row, and the plan warns ahead of the end (all on fixed dates)."""

from __future__ import annotations

from datetime import date

from components.eks_releases import (
    CHECKED,
    DEFAULT_VERSION,
    EKS_RELEASES,
    WARN_DAYS,
    standard_support_days_left,
    support_warning,
)
from offline.plan import plan_warnings
from stacks.settings.schema import leaves_by_key


def test_the_default_version_is_in_standard_support_beyond_the_warning_window():
    assert standard_support_days_left(DEFAULT_VERSION, CHECKED) > WARN_DAYS
    assert support_warning(DEFAULT_VERSION, CHECKED) is None
    assert leaves_by_key()["kubernetesVersion"].default == DEFAULT_VERSION == "1.35"


def test_warns_within_ninety_days_and_once_standard_support_has_ended():
    soon = support_warning("1.35", date(2027, 1, 1))
    assert soon and "leaves EKS standard support on 2027-03-27, in 85 days" in soon
    assert support_warning("1.35", date(2026, 12, 26)) is None  # 91 days left
    assert "in 90 days" in (support_warning("1.35", date(2026, 12, 27)) or "")
    gone = support_warning("1.34", date(2026, 12, 2))
    assert gone and "left EKS standard support on 2026-12-02" in gone


def test_every_row_pins_its_own_minor():
    for version, release in EKS_RELEASES.items():
        assert release.addons["kube-proxy"].startswith(f"v{version}."), version
        assert release.autoscaler_image_tag.startswith(f"v{version}."), version
        assert release.end_of_standard_support < release.end_of_extended_support


def test_a_stack_on_another_version_gets_that_versions_pins(run_with):
    run = run_with("dev", {"quintet:kubernetesVersion": "1.34"})
    row = EKS_RELEASES["1.34"]
    addons = {a.inputs["addonName"]: a.inputs["addonVersion"]
              for a in run.of_type("aws:eks/addon:Addon")}
    assert addons == row.addons
    ca = run.named("cluster-software-cluster-autoscaler").inputs["values"]
    assert ca["image"]["tag"] == row.autoscaler_image_tag


def test_a_pin_set_in_the_stack_file_wins_over_the_row(run_with):
    run = run_with("dev", {"quintet:addonCorednsVersion": "v1.14.3-eksbuild.9"})
    addons = {a.inputs["addonName"]: a.inputs["addonVersion"]
              for a in run.of_type("aws:eks/addon:Addon")}
    assert addons["coredns"] == "v1.14.3-eksbuild.9"


def test_make_plan_warns_about_the_support_window(stack_run):
    run = stack_run("dev")
    assert not [w for w in plan_warnings("dev", run, CHECKED) if w.startswith("eks:")]
    (warning,) = [w for w in plan_warnings("dev", run, date(2027, 2, 1)) if w.startswith("eks:")]
    assert "Kubernetes 1.35 leaves EKS standard support on 2027-03-27, in 54 days" in warning
