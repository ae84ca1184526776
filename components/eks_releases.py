"""The EKS calendar and what belongs to each Kubernetes version: add-ons, charts, images.

One table, version -> support dates and pins. The settings take their defaults from the row of
the pinned ``kubernetesVersion``; ``make plan`` warns while the version is within
``WARN_DAYS`` of leaving standard support; the policy pack fails a preview once it has left.
Pure data and date arithmetic: no Pulumi, so the policy pack can read it too.

Sources, checked 2026-12-01:
- dates: the Amazon EKS Kubernetes release calendar
  (docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html#kubernetes-release-calendar;
  1.35 from the same calendar as mirrored by endoflife.date/amazon-eks).
- coredns and kube-proxy: the add-on tables of managing-coredns.html and managing-kube-proxy.html
  (the newest stored copy, which already lists 1.36).
- vpc-cni and eks-pod-identity-agent (not tied to a minor): the versions a 1.35 cluster runs;
  confirm with ``aws eks describe-addon-versions --kubernetes-version <v> --addon-name <a>``.
- cluster-autoscaler: the image's minor is the Kubernetes minor (the autoscaler's version
  policy) and is what the kit sets; chart 9.54.x is the first with appVersion 1.35, and the kit
  overrides the image tag, so 1.34 uses the same chart.
1.36 exists on EKS (the add-on tables list it) but its support dates were not in the stored
calendar, so it has no row yet: add one with its dates before pinning it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

CHECKED = date(2026, 12, 1)
CALENDAR_SOURCE = (
    "https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html"
    "#kubernetes-release-calendar"
)
WARN_DAYS = 90
DEFAULT_VERSION = "1.35"


@dataclass(frozen=True)
class EksRelease:
    """One Kubernetes minor on EKS: its support window and the pins that belong to it."""

    version: str
    """MAJOR.MINOR."""
    end_of_standard_support: date
    """First day billed as extended support (UTC)."""
    end_of_extended_support: date
    """After this, EKS upgrades the control plane by itself."""
    addons: dict[str, str] = field(default_factory=dict)
    """EKS managed add-on versions by add-on name."""
    charts: dict[str, str] = field(default_factory=dict)
    """Helm chart versions by chart name."""
    autoscaler_image_tag: str = ""
    """cluster-autoscaler image tag (its minor is the Kubernetes minor)."""


def _release(version: str, standard: date, extended: date, coredns: str, kube_proxy: str,
             vpc_cni: str, pod_identity: str, autoscaler_chart: str, autoscaler_image: str,
             ) -> EksRelease:
    return EksRelease(
        version=version,
        end_of_standard_support=standard,
        end_of_extended_support=extended,
        addons={
            "vpc-cni": vpc_cni,
            "coredns": coredns,
            "kube-proxy": kube_proxy,
            "eks-pod-identity-agent": pod_identity,
        },
        charts={
            # Not tied to a Kubernetes minor within this window; kept per row so a bump is one
            # edit here. KEDA's own matrix was not re-checked for 1.35 (see docs/runbook.md).
            "aws-load-balancer-controller": "1.14.0",
            "metrics-server": "3.12.2",
            "keda": "2.17.2",
            "cluster-autoscaler": autoscaler_chart,
        },
        autoscaler_image_tag=autoscaler_image,
    )


EKS_RELEASES: dict[str, EksRelease] = {
    r.version: r
    for r in (
        _release("1.33", date(2026, 7, 29), date(2027, 7, 29), "v1.12.4-eksbuild.18",
                 "v1.33.10-eksbuild.13", "v1.19.6-eksbuild.7", "v1.3.8-eksbuild.2",
                 "9.46.6", "v1.33.0"),
        _release("1.34", date(2026, 12, 2), date(2027, 12, 2), "v1.13.2-eksbuild.11",
                 "v1.34.6-eksbuild.13", "v1.21.1-eksbuild.3", "v1.3.10-eksbuild.3",
                 "9.54.0", "v1.34.0"),
        _release("1.35", date(2027, 3, 27), date(2028, 3, 27), "v1.14.3-eksbuild.3",
                 "v1.35.3-eksbuild.13", "v1.21.1-eksbuild.3", "v1.3.10-eksbuild.3",
                 "9.54.0", "v1.35.0"),
    )
}


def release_of(version: str) -> EksRelease | None:
    """The table's row for a Kubernetes minor, or None when the kit does not know it."""
    return EKS_RELEASES.get(version)


def standard_support_days_left(version: str, today: date) -> int | None:
    """Days until ``version`` leaves standard support (0 or less: it has left); None if unknown."""
    release = release_of(version)
    return None if release is None else (release.end_of_standard_support - today).days


def support_warning(version: str, today: date, warn_days: int = WARN_DAYS) -> str | None:
    """A line saying the version has left, or leaves within ``warn_days``, standard support."""
    release = release_of(version)
    if release is None:
        return None
    left = (release.end_of_standard_support - today).days
    end = release.end_of_standard_support.isoformat()
    newest = max(EKS_RELEASES, key=lambda v: int(v.split(".")[1]))
    if left <= 0:
        return (
            f"Kubernetes {version} left EKS standard support on {end} (extended support is "
            f"billed per cluster hour); upgrade one minor at a time towards {newest}"
        )
    if left <= warn_days:
        return (
            f"Kubernetes {version} leaves EKS standard support on {end}, in {left} days; "
            f"plan the upgrade towards {newest} (docs/runbook.md)"
        )
    return None
