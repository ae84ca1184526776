"""Cluster software: the Helm releases every quintet cluster runs, with their Pod Identity roles.

Helm ``Release`` (not the v4 ``Chart``): Helm itself installs and upgrades each chart, so chart
hooks, CRD handling and ``--atomic`` rollback behave as the chart authors tested them, the
release shows in ``helm list``, and the state holds one resource per chart (a pinned version and
its values) rather than every rendered object, which keeps previews short.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.cluster import POOL_LABEL
from k8s.meta import READINESS_GATE_ON

LB_CONTROLLER_SA = "aws-load-balancer-controller"
AUTOSCALER_SA = "cluster-autoscaler"
SYSTEM_NAMESPACE = "kube-system"
KEDA_NAMESPACE = "keda"
MONITORING_NAMESPACE = "monitoring"
GRAFANA_SA = "grafana"
DASHBOARD_LABEL = "grafana_dashboard"


@dataclass(frozen=True)
class ChartVersions:
    """Pinned Helm chart versions."""

    aws_load_balancer_controller: str
    """eks-charts/aws-load-balancer-controller."""
    metrics_server: str
    """metrics-server/metrics-server (resource metrics for the HPA)."""
    keda: str
    """kedacore/keda (Celery workers scale on queue length)."""
    cluster_autoscaler: str
    """autoscaler/cluster-autoscaler."""
    kube_prometheus_stack: str
    """prometheus-community/kube-prometheus-stack (Prometheus, Alertmanager, Grafana)."""


@dataclass(frozen=True)
class ClusterSoftwareArgs:
    """Inputs of the cluster software."""

    cluster_name: pulumi.Input[str]
    """EKS cluster name (Pod Identity associations, controller and autoscaler discovery)."""
    region: str
    """AWS region the controllers call (given, so nothing needs the instance metadata)."""
    vpc_id: pulumi.Input[str]
    """VPC of the cluster, for the load balancer controller."""
    charts: ChartVersions
    """Pinned chart versions."""
    autoscaler_image_tag: str
    """Cluster autoscaler image tag; its minor matches the Kubernetes version."""
    ready: Sequence[pulumi.Resource]
    """What every release waits for: node groups and add-ons."""
    system_pool: str = "system"
    """Pool the controllers run on (by node selector)."""


@dataclass(frozen=True)
class Chart:
    """One Helm chart to install: where it comes from and where it goes."""

    release: str
    chart: str
    repository: str
    namespace: str


LB_CONTROLLER = Chart(
    "aws-load-balancer-controller", "aws-load-balancer-controller",
    "https://aws.github.io/eks-charts", SYSTEM_NAMESPACE,
)
METRICS_SERVER = Chart(
    "metrics-server", "metrics-server",
    "https://kubernetes-sigs.github.io/metrics-server/", SYSTEM_NAMESPACE,
)
KEDA = Chart("keda", "keda", "https://kedacore.github.io/charts", KEDA_NAMESPACE)
CLUSTER_AUTOSCALER = Chart(
    "cluster-autoscaler", "cluster-autoscaler",
    "https://kubernetes.github.io/autoscaler", SYSTEM_NAMESPACE,
)
KUBE_PROMETHEUS_STACK = Chart(
    "kube-prometheus-stack", "kube-prometheus-stack",
    "https://prometheus-community.github.io/helm-charts", MONITORING_NAMESPACE,
)


def grafana_cloudwatch_policy() -> dict:
    """Read-only CloudWatch for Grafana's CloudWatch datasource (the data tier's metrics)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadMetrics",
                "Effect": "Allow",
                "Action": [
                    "cloudwatch:DescribeAlarmsForMetric",
                    "cloudwatch:DescribeAlarmHistory",
                    "cloudwatch:DescribeAlarms",
                    "cloudwatch:ListMetrics",
                    "cloudwatch:GetMetricData",
                    "cloudwatch:GetInsightRuleReport",
                    "ec2:DescribeRegions",
                    "tag:GetResources",
                ],
                "Resource": "*",
            }
        ],
    }


def monitoring_values(*, region: str, system_pool: str) -> dict:
    """kube-prometheus-stack values: every controller on the system pool; Prometheus selects
    every PodMonitor and PrometheusRule (not only the chart's own); Grafana loads dashboards
    from labelled ConfigMaps in every namespace and reads CloudWatch through Pod Identity."""
    on_system = {"nodeSelector": {POOL_LABEL: system_pool}}
    return {
        "prometheusOperator": {**on_system, "admissionWebhooks": {"patch": {**on_system}}},
        "prometheus": {"prometheusSpec": {
            **on_system,
            "retention": "15d",
            "podMonitorSelectorNilUsesHelmValues": False,
            "serviceMonitorSelectorNilUsesHelmValues": False,
            "ruleSelectorNilUsesHelmValues": False,
        }},
        "alertmanager": {"alertmanagerSpec": {**on_system}},
        "kube-state-metrics": {**on_system},
        "grafana": {
            **on_system,
            "serviceAccount": {"create": True, "name": GRAFANA_SA},
            "sidecar": {"dashboards": {"enabled": True, "label": DASHBOARD_LABEL,
                                       "labelValue": "1", "searchNamespace": "ALL"}},
            # The data tier's metrics stay in CloudWatch (its alarms live there too): a
            # datasource, not an exporter that would copy them at GetMetricData prices.
            "additionalDataSources": [{
                "name": "CloudWatch", "uid": "cloudwatch", "type": "cloudwatch",
                "access": "proxy",
                "jsonData": {"authType": "default", "defaultRegion": region},
            }],
        },
    }


def lb_controller_policy() -> dict:
    """IAM policy of the load balancer controller in TargetGroupBinding-only use.

    Pulumi owns the ALB, its listeners and security groups; the controller only registers pod
    IPs in target groups. So it gets the project's documented TargetGroupBinding-only subset
    (describe calls, target (de)registration, and the target group modifications the binding
    reconciler makes), not the upstream policy's rights to create and delete load balancers and
    security groups. Using Ingress objects later needs the full upstream policy. Both upstream
    documents are kept under ``components/upstream/aws-load-balancer-controller`` and a test
    holds this policy between them.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Describe",
                "Effect": "Allow",
                "Action": [
                    "ec2:DescribeAvailabilityZones",
                    "ec2:DescribeInstances",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeSecurityGroups",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeVpcs",
                    "ec2:DescribeTags",
                    "elasticloadbalancing:DescribeListeners",
                    "elasticloadbalancing:DescribeLoadBalancers",
                    "elasticloadbalancing:DescribeTags",
                    "elasticloadbalancing:DescribeTargetGroups",
                    "elasticloadbalancing:DescribeTargetGroupAttributes",
                    "elasticloadbalancing:DescribeTargetHealth",
                ],
                "Resource": "*",
            },
            {
                "Sid": "RegisterPodTargets",
                "Effect": "Allow",
                "Action": [
                    "elasticloadbalancing:RegisterTargets",
                    "elasticloadbalancing:DeregisterTargets",
                    "elasticloadbalancing:ModifyTargetGroup",
                    "elasticloadbalancing:ModifyTargetGroupAttributes",
                ],
                "Resource": "arn:aws:elasticloadbalancing:*:*:targetgroup/*/*",
            },
        ],
    }


def autoscaler_policy(cluster_name: str) -> dict:
    """IAM policy of the cluster autoscaler: describe everything, but resize and terminate only
    the node groups of this cluster (EKS tags their ASGs ``k8s.io/cluster-autoscaler/<name>``)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Describe",
                "Effect": "Allow",
                "Action": [
                    "autoscaling:DescribeAutoScalingGroups",
                    "autoscaling:DescribeAutoScalingInstances",
                    "autoscaling:DescribeLaunchConfigurations",
                    "autoscaling:DescribeScalingActivities",
                    "autoscaling:DescribeTags",
                    "ec2:DescribeImages",
                    "ec2:DescribeInstanceTypes",
                    "ec2:DescribeLaunchTemplateVersions",
                    "ec2:GetInstanceTypesFromInstanceRequirements",
                    # Scale from zero: labels and taints of an empty pool come from the node group.
                    "eks:DescribeNodegroup",
                ],
                "Resource": "*",
            },
            {
                "Sid": "ResizeOwnGroups",
                "Effect": "Allow",
                "Action": [
                    "autoscaling:SetDesiredCapacity",
                    "autoscaling:TerminateInstanceInAutoScalingGroup",
                ],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned"
                    }
                },
            },
        ],
    }


POD_IDENTITY_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "pods.eks.amazonaws.com"},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
            }
        ],
    }
)


class ClusterSoftware(pulumi.ComponentResource):
    """Creates: Pod Identity roles and associations for the AWS Load Balancer Controller, the
    cluster autoscaler and Grafana (CloudWatch read), and Helm releases (pinned chart versions)
    of the AWS Load Balancer Controller, metrics-server, KEDA, the cluster autoscaler and
    kube-prometheus-stack, all on the system pool.

    Pass the cluster's Kubernetes provider in ``opts.providers``."""

    releases: dict[str, k8s.helm.v3.Release]
    lb_controller_role_arn: pulumi.Output[str]
    autoscaler_role_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: ClusterSoftwareArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("quintet:cluster:ClusterSoftware", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        on_system_pool = {"nodeSelector": {POOL_LABEL: args.system_pool}}

        def pod_role(what: str, service_account: str, policy: pulumi.Input[str],
                     namespace: str = SYSTEM_NAMESPACE) -> tuple:
            role = aws.iam.Role(
                f"{name}-{what}-role", assume_role_policy=POD_IDENTITY_TRUST, opts=child
            )
            aws.iam.RolePolicy(f"{name}-{what}-policy", role=role.id, policy=policy, opts=child)
            association = aws.eks.PodIdentityAssociation(
                f"{name}-{what}-identity",
                cluster_name=args.cluster_name,
                namespace=namespace,
                service_account=service_account,
                role_arn=role.arn,
                opts=child,
            )
            return role, association

        lbc_role, lbc_identity = pod_role(
            "lb-controller", LB_CONTROLLER_SA, json.dumps(lb_controller_policy())
        )
        ca_role, ca_identity = pod_role(
            "autoscaler",
            AUTOSCALER_SA,
            pulumi.Output.from_input(args.cluster_name).apply(
                lambda cluster: json.dumps(autoscaler_policy(cluster))
            ),
        )

        _, grafana_identity = pod_role(
            "grafana", GRAFANA_SA, json.dumps(grafana_cloudwatch_policy()), MONITORING_NAMESPACE
        )

        def release(
            chart: Chart, version: str, values: dict, after: Sequence[pulumi.Resource] = ()
        ) -> k8s.helm.v3.Release:
            return k8s.helm.v3.Release(
                f"{name}-{chart.release}",
                name=chart.release,  # fixed: service account and object names derive from it
                chart=chart.chart,
                version=version,
                repository_opts={"repo": chart.repository},
                namespace=chart.namespace,
                create_namespace=chart.namespace != SYSTEM_NAMESPACE,
                values=values,
                atomic=True,
                cleanup_on_fail=True,
                timeout=600,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[*args.ready, *after]),
            )

        self.releases = {
            "aws-load-balancer-controller": release(
                LB_CONTROLLER,
                args.charts.aws_load_balancer_controller,
                {
                    "clusterName": args.cluster_name,
                    "region": args.region,
                    "vpcId": args.vpc_id,
                    "replicaCount": 2,
                    "serviceAccount": {"create": True, "name": LB_CONTROLLER_SA},
                    # Only TargetGroupBindings: leave Services of type LoadBalancer alone.
                    "enableServiceMutatorWebhook": False,
                    # Readiness gates: the pod webhook acts only on pods that carry the label (in
                    # namespaces that carry it too), and refuses to create them while it is down,
                    # so no web pod ever starts without its target-health gate.
                    "objectSelector": {"matchLabels": dict(READINESS_GATE_ON)},
                    "podMutatorWebhookConfig": {"failurePolicy": "Fail"},
                    **on_system_pool,
                },
                after=[lbc_identity],
            ),
            "metrics-server": release(
                METRICS_SERVER, args.charts.metrics_server, {**on_system_pool}
            ),
            "keda": release(KEDA, args.charts.keda, {**on_system_pool}),
            "cluster-autoscaler": release(
                CLUSTER_AUTOSCALER,
                args.charts.cluster_autoscaler,
                {
                    "cloudProvider": "aws",
                    "awsRegion": args.region,
                    "autoDiscovery": {"clusterName": args.cluster_name},
                    "image": {"tag": args.autoscaler_image_tag},
                    "rbac": {"serviceAccount": {"create": True, "name": AUTOSCALER_SA}},
                    "extraArgs": {
                        "balance-similar-node-groups": True,
                        "expander": "least-waste",
                        "skip-nodes-with-system-pods": False,
                    },
                    **on_system_pool,
                },
                after=[ca_identity],
            ),
            "kube-prometheus-stack": release(
                KUBE_PROMETHEUS_STACK,
                args.charts.kube_prometheus_stack,
                monitoring_values(region=args.region, system_pool=args.system_pool),
                after=[grafana_identity],
            ),
        }
        self.lb_controller_role_arn = lbc_role.arn
        self.autoscaler_role_arn = ca_role.arn
        self.register_outputs(
            {
                "lb_controller_role_arn": self.lb_controller_role_arn,
                "autoscaler_role_arn": self.autoscaler_role_arn,
                "release_names": {k: r.name for k, r in self.releases.items()},
            }
        )
