"""The compute tier per stack: the EKS cluster, its node pools, add-ons, cluster software and the
Kubernetes provider, as the mocked program declares them."""

from __future__ import annotations

import json

import pytest

from components.cluster import ami_type_for, kubeconfig
from components.eks_releases import DEFAULT_VERSION, EKS_RELEASES
from k8s.meta import READINESS_GATE_LABEL
from stacks.settings import load_settings
from tests.infra.conftest import SHIPPED_STACKS

POOLS = ("system", "web", "workers")
CHARTS = {
    "aws-load-balancer-controller": "chartAwsLoadBalancerControllerVersion",
    "metrics-server": "chartMetricsServerVersion",
    "keda": "chartKedaVersion",
    "cluster-autoscaler": "chartClusterAutoscalerVersion",
    "kube-prometheus-stack": "chartKubePrometheusStackVersion",
}
ADDONS = {
    "vpc-cni": "addonVpcCniVersion",
    "kube-proxy": "addonKubeProxyVersion",
    "eks-pod-identity-agent": "addonPodIdentityAgentVersion",
    "coredns": "addonCorednsVersion",
}


def _settings(stack):
    from offline.stack_files import read_stack_config

    config = read_stack_config(stack)
    return load_settings(config.values, config.secret_keys)


def _leaf(settings, key):
    from stacks.settings.schema import leaves_by_key

    value = settings
    for part in leaves_by_key()[key].path:
        value = getattr(value, part)
    return value


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_a_node_pool_per_role_with_its_label_and_taint(stack_run, stack):
    run = stack_run(stack)
    settings = _settings(stack)
    groups = {g.name: g for g in run.of_type("aws:eks/nodeGroup:NodeGroup")}
    assert set(groups) == {f"cluster-pool-{p}" for p in POOLS}
    private = {s.urn for s in run.of_type("aws:ec2/subnet:Subnet") if "-private-" in s.name}
    for pool in POOLS:
        group = groups[f"cluster-pool-{pool}"]
        wanted = getattr(settings.cluster, f"{pool}_pool")
        assert group.inputs["labels"] == {"quintet.io/pool": pool}, group.urn
        assert group.inputs["instanceTypes"] == wanted.instance_types, group.urn
        assert group.inputs["scalingConfig"] == {
            "minSize": wanted.min_size, "maxSize": wanted.max_size,
            "desiredSize": wanted.desired_size,
        }, group.urn
        # Spread over every AZ's private subnet, nothing public.
        assert private <= set(group.dependencies), group.urn
        assert len(group.inputs["subnetIds"]) == settings.network.az_count
        assert all("-private-" in s for s in group.inputs["subnetIds"]), group.urn
        assert group.ignore_changes == ["scalingConfig.desiredSize"], group.urn
    assert groups["cluster-pool-workers"].inputs["taints"] == [
        {"key": "quintet.io/pool", "value": "workers", "effect": "NO_SCHEDULE"}
    ]
    assert not groups["cluster-pool-system"].inputs.get("taints")
    assert not groups["cluster-pool-web"].inputs.get("taints")


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_the_cluster_is_encrypted_logged_and_uses_access_entries(stack_run, stack):
    run = stack_run(stack)
    settings = _settings(stack)
    (cluster,) = run.of_type("aws:eks/cluster:Cluster")
    (key,) = [k for k in run.of_type("aws:kms/key:Key") if k.name == "cluster-secrets-key"]
    assert cluster.inputs["name"] == f"quintet-{stack}"
    assert cluster.inputs["version"] == settings.cluster.kubernetes_version
    assert cluster.inputs["encryptionConfig"] == {
        "provider": {"keyArn": key.outputs["arn"]}, "resources": ["secrets"],
    }
    assert key.inputs["enableKeyRotation"] is True
    assert set(cluster.inputs["enabledClusterLogTypes"]) == {
        "api", "audit", "authenticator", "controllerManager", "scheduler",
    }
    assert cluster.inputs["accessConfig"]["authenticationMode"] == "API"
    vpc = cluster.inputs["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True
    assert vpc["publicAccessCidrs"] == settings.cluster.public_access_cidrs


def test_prod_api_endpoint_is_restricted(stack_run):
    vpc = stack_run("prod").named("cluster-eks").inputs["vpcConfig"]
    assert vpc["publicAccessCidrs"] == ["203.0.113.0/24"]


def test_private_only_endpoint_lists_no_public_cidrs(run_with):
    run = run_with("dev", {"quintet:clusterEndpointPublicAccess": False})
    vpc = run.named("cluster-eks").inputs["vpcConfig"]
    assert vpc["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in vpc


def test_admin_roles_get_access_entries_with_the_admin_policy(run_with):
    arns = [
        "arn:aws:iam::123456789012:role/platform-admin",
        "arn:aws:iam::123456789012:role/ci/deployer",
    ]
    run = run_with("dev", {"quintet:clusterAdminRoleArns": arns})
    entries = run.of_type("aws:eks/accessEntry:AccessEntry")
    assert sorted(e.inputs["principalArn"] for e in entries) == sorted(arns)
    policies = run.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    assert {p.inputs["policyArn"] for p in policies} == {
        "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
    }
    assert all(p.inputs["accessScope"] == {"type": "cluster"} for p in policies)
    assert not run_with("dev", {}).of_type("aws:eks/accessEntry:AccessEntry")


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_managed_addons_are_pinned_and_ordered_around_the_nodes(stack_run, stack):
    run = stack_run(stack)
    settings = _settings(stack)
    addons = {a.inputs["addonName"]: a for a in run.of_type("aws:eks/addon:Addon")}
    assert set(addons) == set(ADDONS)
    for name, key in ADDONS.items():
        assert addons[name].inputs["addonVersion"] == _leaf(settings, key), name
    groups = {g.urn for g in run.of_type("aws:eks/nodeGroup:NodeGroup")}
    # The CNI must be there for nodes to become Ready; coredns needs nodes to become ACTIVE.
    for group in run.of_type("aws:eks/nodeGroup:NodeGroup"):
        assert addons["vpc-cni"].urn in group.dependencies, group.urn
    assert groups <= set(addons["coredns"].dependencies)
    assert json.loads(addons["coredns"].inputs["configurationValues"]) == {
        "nodeSelector": {"quintet.io/pool": "system"}
    }


def test_the_node_role_has_only_the_node_policies(stack_run):
    run = stack_run("prod")
    role = run.named("cluster-node-role")
    attached = [
        a.inputs["policyArn"]
        for a in run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if role.urn in a.dependencies
    ]
    assert sorted(attached) == [
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
        "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
        "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    ]


def test_nodes_carry_the_cluster_and_node_security_groups_and_imdsv2(stack_run):
    run = stack_run("prod")
    template = run.named("cluster-nodes")
    node_sg = run.named("network-node-sg")
    assert template.inputs["vpcSecurityGroupIds"] == ["quintet-prod-sg", f"{node_sg.name}-id"]
    assert template.inputs["metadataOptions"]["httpTokens"] == "required"
    for group in run.of_type("aws:eks/nodeGroup:NodeGroup"):
        assert group.inputs["launchTemplate"]["id"] == f"{template.name}-id", group.urn


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_cluster_software_is_helm_releases_with_pinned_versions(stack_run, stack):
    run = stack_run(stack)
    settings = _settings(stack)
    provider = run.named("cluster-k8s")
    releases = {r.inputs["name"]: r for r in run.of_type("kubernetes:helm.sh/v3:Release")}
    assert set(releases) == set(CHARTS)
    groups = {g.urn for g in run.of_type("aws:eks/nodeGroup:NodeGroup")}
    for name, key in CHARTS.items():
        release = releases[name]
        assert release.inputs["version"] == _leaf(settings, key), release.urn
        assert release.inputs["chart"] == name, release.urn
        assert release.provider == provider.urn, release.urn
        assert groups <= set(release.dependencies), release.urn
        values = release.inputs["values"]
        if name == "kube-prometheus-stack":  # one node selector per component of the chart
            values = values["prometheus"]["prometheusSpec"]
        assert values["nodeSelector"] == {"quintet.io/pool": "system"}, release.urn


def test_monitoring_stack_selects_the_kits_monitors_rules_and_dashboards(stack_run):
    from k8s.monitoring import DASHBOARD_LABEL, MONITORING_NAMESPACE

    release = stack_run("prod").named("cluster-software-kube-prometheus-stack")
    assert release.inputs["namespace"] == MONITORING_NAMESPACE  # metrics-ingress admits it
    values = release.inputs["values"]
    system = {"quintet.io/pool": "system"}
    for path in (("prometheusOperator",), ("alertmanager", "alertmanagerSpec"),
                 ("kube-state-metrics",), ("grafana",)):
        node = values
        for key in path:
            node = node[key]
        assert node["nodeSelector"] == system, path
    spec = values["prometheus"]["prometheusSpec"]
    for selector in ("podMonitorSelectorNilUsesHelmValues", "ruleSelectorNilUsesHelmValues"):
        assert spec[selector] is False, selector
    sidecar = values["grafana"]["sidecar"]["dashboards"]
    assert (sidecar["label"], sidecar["labelValue"], sidecar["searchNamespace"]) == (
        DASHBOARD_LABEL, "1", "ALL")
    [cloudwatch] = values["grafana"]["additionalDataSources"]
    assert cloudwatch["uid"] == "cloudwatch" and cloudwatch["jsonData"]["authType"] == "default"


def test_controllers_get_pod_identity_roles_before_they_start(stack_run):
    run = stack_run("prod")
    associations = {
        a.inputs["serviceAccount"]: a
        for a in run.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
        if a.inputs["namespace"] != "quintet"  # the app's own are the uploads bucket's
    }
    assert set(associations) == {"aws-load-balancer-controller", "cluster-autoscaler", "grafana"}
    grafana = associations.pop("grafana")
    assert grafana.inputs["namespace"] == "monitoring"
    for sa, association in associations.items():
        assert association.inputs["namespace"] == "kube-system"
        role = run.by_urn(
            next(d for d in association.dependencies if "aws:iam/role:Role" in d)
        )
        trust = json.loads(role.inputs["assumeRolePolicy"])
        assert trust["Statement"][0]["Principal"] == {"Service": "pods.eks.amazonaws.com"}
        release = run.named(f"cluster-software-{sa}")
        assert association.urn in release.dependencies, release.urn
    lbc = run.named("cluster-software-aws-load-balancer-controller").inputs["values"]
    assert lbc["serviceAccount"]["name"] == "aws-load-balancer-controller"
    ca = run.named("cluster-software-cluster-autoscaler").inputs["values"]
    assert ca["rbac"]["serviceAccount"]["name"] == "cluster-autoscaler"
    assert ca["autoDiscovery"]["clusterName"] == "quintet-prod"
    assert ca["image"]["tag"] == EKS_RELEASES[DEFAULT_VERSION].autoscaler_image_tag


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_lb_controller_gates_the_labelled_pods_and_fails_closed(stack_run, stack):
    # The chart's pod webhook must select the pods the workloads label (k8s.meta) and refuse to
    # create them while it is down: with the default Ignore a pod would start ungated.
    values = stack_run(stack).named("cluster-software-aws-load-balancer-controller").inputs[
        "values"
    ]
    assert values["objectSelector"] == {"matchLabels": {READINESS_GATE_LABEL: "enabled"}}
    assert values["podMutatorWebhookConfig"] == {"failurePolicy": "Fail"}


def test_autoscaler_may_resize_only_this_clusters_groups(stack_run):
    policy = json.loads(stack_run("prod").named("cluster-software-autoscaler-policy")
                        .inputs["policy"])
    resize = next(s for s in policy["Statement"] if "autoscaling:SetDesiredCapacity" in s["Action"])
    assert resize["Condition"] == {
        "StringEquals": {"aws:ResourceTag/k8s.io/cluster-autoscaler/quintet-prod": "owned"}
    }


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_the_kubernetes_provider_derives_from_the_cluster(stack_run, stack):
    run = stack_run(stack)
    cluster = run.named("cluster-eks")
    provider = run.named("cluster-k8s")
    assert provider.type == "pulumi:providers:kubernetes"
    assert cluster.urn in provider.dependencies
    config = json.loads(provider.inputs["kubeconfig"])
    assert config["clusters"][0]["cluster"] == {
        "server": cluster.outputs["endpoint"],
        "certificate-authority-data": cluster.outputs["certificateAuthority"]["data"],
    }
    assert config["users"][0]["user"]["exec"]["args"][:4] == [
        "eks", "get-token", "--cluster-name", f"quintet-{stack}",
    ]


def test_the_kubeconfig_text_is_identical_across_runs(stack_run, run_with):
    first = stack_run("prod").named("cluster-k8s").inputs["kubeconfig"]
    second = run_with("prod", {}).named("cluster-k8s").inputs["kubeconfig"]
    assert first == second


def test_the_stacks_aws_profile_reaches_the_provider_and_the_token_command(run_with):
    # An explicit provider ignores the aws: config namespace; without this, `pulumi up` under
    # aws:profile would create the cluster with one identity and fetch tokens with another.
    first = run_with("prod", {"aws:profile": "quintet-prod"})
    assert first.named("aws").inputs["profile"] == "quintet-prod"
    text = first.named("cluster-k8s").inputs["kubeconfig"]
    args = json.loads(text)["users"][0]["user"]["exec"]["args"]
    assert args[args.index("--profile") + 1] == "quintet-prod"
    again = run_with("prod", {"aws:profile": "quintet-prod"}).named("cluster-k8s")
    assert again.inputs["kubeconfig"] == text  # stable: the provider is not replaced


def test_without_a_profile_the_token_command_names_none(stack_run):
    run = stack_run("prod")
    assert "profile" not in run.named("aws").inputs
    config = json.loads(run.named("cluster-k8s").inputs["kubeconfig"])
    assert "--profile" not in config["users"][0]["user"]["exec"]["args"]


def test_kubeconfig_holds_no_volatile_fields():
    text = kubeconfig("c", "https://x.eks.amazonaws.com", "Q0E=", "eu-west-2")
    assert text == kubeconfig("c", "https://x.eks.amazonaws.com", "Q0E=", "eu-west-2")
    user = json.loads(text)["users"][0]["user"]
    assert set(user) == {"exec"}  # no token, no client certificate: nothing that expires
    assert set(user["exec"]) == {"apiVersion", "command", "args", "interactiveMode"}
    assert "--profile" not in user["exec"]["args"]


@pytest.mark.parametrize(
    ("types", "ami"),
    [
        (["m7i.large", "m6i.large"], "AL2023_x86_64_STANDARD"),
        (["t3.medium"], "AL2023_x86_64_STANDARD"),
        (["m7g.large", "c7gn.xlarge", "t4g.small"], "AL2023_ARM_64_STANDARD"),
    ],
)
def test_ami_type_follows_the_instance_architecture(types, ami):
    assert ami_type_for(types) == ami


def test_graviton_pool_gets_the_arm_ami(run_with):
    run = run_with("dev", {"quintet:webPoolInstanceTypes": ["m7g.large", "m6g.large"]})
    assert run.named("cluster-pool-web").inputs["amiType"] == "AL2023_ARM_64_STANDARD"


# Bad configuration fails before anything is declared, naming key, value and what is allowed.


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"quintet:kubernetesVersion": "1.28"},
            'quintet:kubernetesVersion: "1.28" is not allowed; must be 1.29 or newer',
        ),
        (
            {"quintet:kubernetesVersion": "1.33.2"},
            'quintet:kubernetesVersion: "1.33.2" is not allowed; expected MAJOR.MINOR',
        ),
        (
            {"quintet:workersPoolInstanceTypes": []},
            'quintet:workersPoolInstanceTypes: "[]" is not allowed; must list at least one',
        ),
        (
            {"quintet:workersPoolMin": 4, "quintet:workersPoolMax": 3},
            "quintet:workersPoolMin: 4 is not allowed; it must not exceed "
            "quintet:workersPoolMax (3)",
        ),
        (
            {"quintet:kubernetesVersion": "1.34",
             "quintet:addonKubeProxyVersion": "v1.35.3-eksbuild.13"},
            "quintet:addonKubeProxyVersion: 'v1.35.3-eksbuild.13' is not allowed; its minor "
            "must match quintet:kubernetesVersion (1.34)",
        ),
        (
            {"quintet:kubernetesVersion": "1.37"},
            'quintet:kubernetesVersion: "1.37" is not allowed; the kit\'s EKS table knows '
            "1.33, 1.34, 1.35; add a row for 1.37",
        ),
        (
            {"quintet:clusterPublicAccessCidrs": ["10.0.0.1/8"]},
            "'10.0.0.1/8' is not an IPv4 CIDR with host bits zero",
        ),
        (
            {"quintet:clusterAdminRoleArns": ["arn:aws:iam::123456789012:user/alice"]},
            "quintet:clusterAdminRoleArns: 'arn:aws:iam::123456789012:user/alice' is not "
            "allowed; expected an IAM role ARN",
        ),
        (
            {"quintet:systemPoolInstanceTypes": ["m7i.large", "m7g.large"]},
            "quintet:systemPoolInstanceTypes: ['m7i.large', 'm7g.large'] is not allowed; "
            "instance types m7i.large, m7g.large mix Graviton",
        ),
    ],
)
def test_bad_cluster_config_is_refused(config_error, overrides, expected):
    assert expected in config_error("dev", overrides)


def test_prod_refuses_an_api_endpoint_open_to_all(config_error):
    message = config_error("prod", {"quintet:clusterPublicAccessCidrs": ["0.0.0.0/0"]})
    assert message.startswith(
        'quintet:clusterPublicAccessCidrs: ["0.0.0.0/0"] is not allowed in prod'
    )


def test_prod_may_be_private_only(run_with):
    run = run_with(
        "prod",
        {
            "quintet:clusterEndpointPublicAccess": False,
            "quintet:clusterPublicAccessCidrs": ["0.0.0.0/0"],
        },
    )
    assert run.named("cluster-eks").inputs["vpcConfig"]["endpointPublicAccess"] is False


def test_vpc_cni_enforces_network_policies(stack_run):
    (cni,) = [
        a for a in stack_run("prod").of_type("aws:eks/addon:Addon")
        if a.inputs["addonName"] == "vpc-cni"
    ]
    assert json.loads(cni.inputs["configurationValues"]) == {"enableNetworkPolicy": "true"}
