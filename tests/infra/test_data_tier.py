"""The data tier under mocks: RDS primary and replicas, the two Redis groups, alarms, secrets."""

from __future__ import annotations

import json

import pulumi
import pytest
from pulumi.runtime.rpc import is_rpc_secret

from components.data_catalog import BROKER_POLICY, LRU_POLICIES, SHARED_POLICY
from offline.mocks import ProgramRun, RecordedResource, run_program
from offline.plan import render_json
from offline.stack_files import read_stack_config
from stacks import reference
from stacks.connections import connection_budget_for
from stacks.program import offline_main as main
from stacks.settings import load_settings

RDS = "aws:rds/instance:Instance"
REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
REDIS_PARAMS = "aws:elasticache/parameterGroup:ParameterGroup"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
DATA_COMPONENTS = ("quintet:database:Database", "quintet:cache:Cache", "quintet:alarms:DataAlarms")


def mock_id(resource: RecordedResource) -> str:
    """The id the mocks give a resource (``<name>-id``)."""
    return f"{resource.name}-id"


def primary_and_replicas(run: ProgramRun) -> tuple[RecordedResource, list[RecordedResource]]:
    instances = run.of_type(RDS)
    primaries = [r for r in instances if "replicateSourceDb" not in r.inputs]
    assert len(primaries) == 1, [r.urn for r in primaries]
    return primaries[0], [r for r in instances if "replicateSourceDb" in r.inputs]


def data_tier_resources(run: ProgramRun) -> list[RecordedResource]:
    """Every resource under the data tier's components (components included)."""
    found = [r for r in run.resources if r.type in DATA_COMPONENTS]
    assert len(found) == len(DATA_COMPONENTS)
    frontier = list(found)
    while frontier:
        children = [c for parent in frontier for c in run.children_of(parent)]
        found += children
        frontier = children
    return found


def settings_of(stack: str):
    config = read_stack_config(stack)
    return load_settings(config.values, config.secret_keys)


def redis_policy(run: ProgramRun, group: RecordedResource) -> str:
    (params,) = [
        p for p in run.of_type(REDIS_PARAMS)
        if p.outputs["name"] == group.inputs["parameterGroupName"]
    ]
    (policy,) = [p["value"] for p in params.inputs["parameters"]
                 if p["name"] == "maxmemory-policy"]
    return policy


# ---- RDS -----------------------------------------------------------------------------------


def test_prod_primary_is_multi_az_encrypted_protected_and_backed_up(stack_run):
    run = stack_run("prod")
    primary, _ = primary_and_replicas(run)
    key = run.named("database-key")
    assert key.inputs["enableKeyRotation"] is True
    assert primary.inputs["multiAz"] is True, primary.urn
    assert primary.inputs["storageEncrypted"] is True
    assert primary.inputs["kmsKeyId"] == key.outputs["arn"]
    assert primary.inputs["deletionProtection"] is True
    assert primary.inputs["backupRetentionPeriod"] >= 7
    assert primary.inputs["skipFinalSnapshot"] is False
    # Unique per destroy: the hex of a RandomId made with the primary (mocked as 0f1e2d3c).
    suffix = run.named("database-final-snapshot-suffix")
    assert suffix.inputs["keepers"] == {"identifier": "quintet-prod"}
    assert primary.inputs["finalSnapshotIdentifier"] == "quintet-prod-final-0f1e2d3c"
    assert primary.inputs["performanceInsightsEnabled"] is True
    assert primary.inputs["autoMinorVersionUpgrade"] is True
    assert primary.inputs["publiclyAccessible"] is False


def test_prod_has_two_encrypted_replicas_of_the_primary_in_other_azs(stack_run):
    run = stack_run("prod")
    primary, replicas = primary_and_replicas(run)
    assert len(replicas) == 2
    zones = {r.inputs["availabilityZone"] for r in replicas}
    assert len(zones) == 2
    for replica in replicas:
        assert replica.inputs["replicateSourceDb"] == primary.outputs["identifier"], replica.urn
        assert replica.inputs["storageEncrypted"] is True
        assert replica.inputs["kmsKeyId"] == primary.inputs["kmsKeyId"]
        assert replica.inputs["parameterGroupName"] == primary.inputs["parameterGroupName"]
        assert replica.inputs["vpcSecurityGroupIds"] == primary.inputs["vpcSecurityGroupIds"]


@pytest.mark.parametrize(("stack", "replicas"), [("dev", 0), ("staging", 1), ("prod", 2)])
def test_replica_count_per_tier(stack_run, stack, replicas):
    _, found = primary_and_replicas(stack_run(stack))
    assert len(found) == replicas


def test_dev_has_no_deletion_protection_and_no_final_snapshot(stack_run):
    primary, _ = primary_and_replicas(stack_run("dev"))
    assert primary.inputs["deletionProtection"] is False
    assert primary.inputs["skipFinalSnapshot"] is True
    assert "finalSnapshotIdentifier" not in primary.inputs
    assert primary.inputs["multiAz"] is False


def test_the_subnet_group_holds_the_isolated_subnets(stack_run):
    run = stack_run("prod")
    isolated = sorted(
        mock_id(r) for r in run.of_type("aws:ec2/subnet:Subnet") if "-isolated-" in r.name
    )
    assert len(isolated) == 3
    (group,) = run.of_type("aws:rds/subnetGroup:SubnetGroup")
    assert sorted(group.inputs["subnetIds"]) == isolated
    (redis_group,) = run.of_type("aws:elasticache/subnetGroup:SubnetGroup")
    assert sorted(redis_group.inputs["subnetIds"]) == isolated


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_parameter_group_sets_max_connections_from_the_budget(stack_run, stack):
    run = stack_run(stack)
    (group,) = run.of_type("aws:rds/parameterGroup:ParameterGroup")
    params = {p["name"]: p for p in group.inputs["parameters"]}
    settings = settings_of(stack)
    assert group.inputs["family"] == f"postgres{settings.database.engine_version.split('.')[0]}"
    assert params["max_connections"]["value"] == str(
        connection_budget_for(settings).max_connections
    )
    assert params["shared_preload_libraries"]["value"] == "pg_stat_statements"
    assert params["statement_timeout"]["value"] == str(settings.database.statement_timeout_ms)
    assert "log_min_duration_statement" in params
    # RDS refuses "immediate" for static parameters.
    assert params["max_connections"]["applyMethod"] == "pending-reboot"
    assert params["shared_preload_libraries"]["applyMethod"] == "pending-reboot"


def test_max_connections_follows_web_and_worker_settings(run_with):
    run = run_with("dev", {"quintet:webMaxReplicas": 7, "quintet:pgbouncerPoolSize": 5})
    (group,) = run.of_type("aws:rds/parameterGroup:ParameterGroup")
    value = {p["name"]: p["value"] for p in group.inputs["parameters"]}["max_connections"]
    base = settings_of("dev")
    workers = sum(q.max_replicas * q.concurrency for q in base.workloads.queues.values())
    # 7 web pods x 5 + workers + beat and migrate (2) + headroom + reserved (3)
    assert value == str(35 + workers + 3 + base.database.connection_headroom + 3)


# ---- network reach ---------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_data_security_groups_admit_only_the_node_security_group(stack_run, stack):
    run = stack_run(stack)
    node_sg = run.named("network-node-sg")
    tier = data_tier_resources(run)
    groups = [r for r in tier if r.type == "aws:ec2/securityGroup:SecurityGroup"]
    assert {g.name for g in groups} == {"database-sg", "redis-sg"}
    for group in groups:
        assert group.inputs["egress"] == [], group.urn
        assert "ingress" not in group.inputs
    rules = [r for r in tier if r.type.startswith("aws:vpc/securityGroup")]
    assert {r.type for r in rules} == {"aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"}
    ports = {}
    for rule in rules:
        assert rule.inputs["referencedSecurityGroupId"] == mock_id(node_sg), rule.urn
        assert not {"cidrIpv4", "cidrIpv6", "prefixListId"} & set(rule.inputs), rule.urn
        ports[rule.name] = (rule.inputs["fromPort"], rule.inputs["toPort"])
    assert ports == {"database-from-nodes": (5432, 5432), "redis-from-nodes": (6379, 6379)}


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_no_open_cidr_anywhere_in_the_data_tier(stack_run, stack):
    for resource in data_tier_resources(stack_run(stack)):
        text = json.dumps(resource.masked_inputs)
        assert "0.0.0.0/0" not in text and "::/0" not in text, resource.urn
        assert resource.inputs.get("publiclyAccessible") in (None, False), resource.urn


# ---- Redis -----------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_broker_never_evicts_and_cache_is_lru(stack_run, stack):
    run = stack_run(stack)
    groups = {g.inputs["replicationGroupId"].rsplit("-", 1)[1]: g
              for g in run.of_type(REPLICATION_GROUP)}
    assert set(groups) == {"cache", "broker"}
    assert redis_policy(run, groups["broker"]) == BROKER_POLICY
    assert redis_policy(run, groups["cache"]) in LRU_POLICIES
    assert groups["cache"].inputs["parameterGroupName"] != groups["broker"].inputs[
        "parameterGroupName"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_redis_groups_are_encrypted_with_a_secret_auth_token(stack_run, stack):
    for group in stack_run(stack).of_type(REPLICATION_GROUP):
        assert group.inputs["atRestEncryptionEnabled"] is True, group.urn
        assert group.inputs["transitEncryptionEnabled"] is True, group.urn
        assert group.masked_inputs["authToken"] == "[secret]", group.urn
        assert group.inputs["authTokenUpdateStrategy"] in ("ROTATE", "SET"), group.urn
        assert group.inputs["clusterMode"] == "disabled"


def test_prod_redis_groups_fail_over_across_azs(stack_run):
    for group in stack_run("prod").of_type(REPLICATION_GROUP):
        assert group.inputs["numCacheClusters"] >= 2, group.urn
        assert group.inputs["automaticFailoverEnabled"] is True
        assert group.inputs["multiAzEnabled"] is True
        zones = group.inputs["preferredCacheClusterAzs"]
        assert len(set(zones)) == len(zones) == group.inputs["numCacheClusters"]


def test_dev_redis_groups_are_single_nodes(stack_run):
    for group in stack_run("dev").of_type(REPLICATION_GROUP):
        assert group.inputs["numCacheClusters"] == 1, group.urn
        assert group.inputs["automaticFailoverEnabled"] is False


def test_dev_may_share_one_volatile_lru_group(run_with):
    run = run_with("dev", {"quintet:cacheShareOneGroup": True})
    (group,) = run.of_type(REPLICATION_GROUP)
    assert group.inputs["replicationGroupId"].endswith("-shared")
    assert redis_policy(run, group) == SHARED_POLICY
    # Evictions are expected there; only memory is watched, and alarm names stay unique.
    names = [a.name for a in run.of_type(ALARM)]
    assert len(names) == len(set(names))
    assert any(n.endswith("-shared-001-memory") for n in names)


# ---- secrets ---------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_password_or_token_in_plain_text_in_the_plan(stack_run, stack):
    run = stack_run(stack)
    passwords = run.of_type("random:index/randomPassword:RandomPassword")
    tier = {r.urn for r in data_tier_resources(run)}
    tokens = [t.outputs["result"] for t in passwords if t.urn in tier]
    assert len(tokens) == 2 and all(len(t) >= 32 for t in tokens)
    plan = render_json(run)
    # No generated value anywhere in the plan: not ours, nor where the workloads pass them on.
    for password in passwords:
        assert password.outputs["result"] not in plan, password.urn
    # The values are wrapped secrets (that is why the plan masks them), not merely absent.
    groups = run.of_type(REPLICATION_GROUP)
    assert sorted(g.inputs["authToken"]["value"] for g in groups) == sorted(tokens)
    primary, replicas = primary_and_replicas(run)
    # The master password is a generated Pulumi secret, wrapped as such; replicas inherit it.
    (master,) = [p for p in passwords if p.name == "database-master-password"]
    assert is_rpc_secret(primary.inputs["password"])
    assert primary.inputs["password"]["value"] == master.outputs["result"]
    for replica in replicas:
        assert "password" not in replica.inputs, replica.urn


# ---- outputs for the workloads --------------------------------------------------------------


def test_components_expose_what_the_workloads_consume(monkeypatch):
    built = {}
    original = reference.build_data_tier

    def capture(*args, **kwargs):
        built["tier"] = tier = original(*args, **kwargs)
        database, cache = tier.database, tier.cache
        pulumi.Output.all(
            writer=database.writer_address,
            replicas=database.replica_addresses,
            port=database.port,
            password=database.master_password,
            cache=cache.cache_primary_endpoint,
            cache_reader=cache.cache_reader_endpoint,
            broker=cache.broker_primary_endpoint,
            broker_reader=cache.broker_reader_endpoint,
        ).apply(built.update)
        return tier

    monkeypatch.setattr(reference, "build_data_tier", capture)
    config = read_stack_config("prod")
    run = run_program(main, stack="prod", config=config.values, secret_keys=config.secret_keys)
    assert built["writer"] == "quintet-prod.mock.eu-west-2.rds.amazonaws.com"
    assert built["replicas"] == [
        f"quintet-prod-replica-{n}.mock.eu-west-2.rds.amazonaws.com" for n in (1, 2)
    ]
    assert built["port"] == 5432
    (master,) = [
        p for p in run.of_type("random:index/randomPassword:RandomPassword")
        if p.name == "database-master-password"
    ]
    assert built["password"] == master.outputs["result"]
    assert built["cache"].startswith("master.quintet-prod-cache.")
    assert built["cache_reader"].startswith("replica.quintet-prod-cache.")
    assert built["broker"].startswith("master.quintet-prod-broker.")
    assert built["broker_reader"].startswith("replica.quintet-prod-broker.")
    tier = built["tier"]
    assert tier.database.db_name == "app"
    budget = connection_budget_for(settings_of("prod"))
    assert tier.database.max_connections == budget.max_connections


# ---- alarms ----------------------------------------------------------------------------------


def test_prod_alarms_cover_the_issue_and_notify_the_topic(stack_run):
    run = stack_run("prod")
    topic = run.named("data-alarms-topic")
    alarms = {a.name: a for a in run.of_type(ALARM)}
    metrics = sorted({a.inputs["metricName"] for a in alarms.values()})
    assert metrics == ["CPUUtilization", "DatabaseConnections", "DatabaseMemoryUsagePercentage",
                       "Evictions", "FreeStorageSpace", "ReplicaLag"]
    for alarm in alarms.values():
        assert alarm.inputs["alarmActions"] == [topic.outputs["arn"]], alarm.urn
    lag = [a for a in alarms.values() if a.inputs["metricName"] == "ReplicaLag"]
    assert len(lag) == 2
    max_connections = connection_budget_for(settings_of("prod")).max_connections
    primary = alarms["data-alarms-primary-connections"]
    assert primary.inputs["threshold"] == max_connections * 80 // 100
    broker_evictions = [
        a for n, a in alarms.items() if "-broker-" in n and n.endswith("-evictions")
    ]
    assert broker_evictions and all(a.inputs["threshold"] == 0 for a in broker_evictions)
    memory = [
        a for a in alarms.values() if a.inputs["metricName"] == "DatabaseMemoryUsagePercentage"
    ]
    assert memory and all(a.inputs["threshold"] == 80 for a in memory)
    assert all("-broker-" in a.name for a in memory)


def test_alarm_emails_subscribe_to_the_topic(run_with):
    run = run_with("dev", {"quintet:alarmEmails": ["ops@example.com", "dba@example.com"]})
    subs = run.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert sorted(s.inputs["endpoint"] for s in subs) == ["dba@example.com", "ops@example.com"]
    assert {s.inputs["protocol"] for s in subs} == {"email"}


# ---- bad config ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"quintet:dbReplicas": 6}, 'quintet:dbReplicas: "6" is not allowed; must be at most 5'),
        ({"quintet:dbEngineVersion": "13"},
         'quintet:dbEngineVersion: "13" is not allowed; no parameter group family for Postgres'),
        ({"quintet:dbEngineVersion": "latest"}, "known: 14 (postgres14)"),
        ({"quintet:dbAllocatedStorageGib": 10},
         "quintet:dbAllocatedStorageGib: 10 is not allowed; Postgres on gp3 takes 20 to 65536 GiB"),
        ({"quintet:dbMaxAllocatedStorageGib": 10},
         "quintet:dbMaxAllocatedStorageGib: 10 is not allowed; it must be at least"),
        ({"quintet:brokerMaxmemoryPolicy": "allkeys-lru"},
         'quintet:brokerMaxmemoryPolicy: "allkeys-lru" is not allowed; the broker must use '
         "noeviction"),
        ({"quintet:brokerMaxmemoryPolicy": "volatile-ttl"}, "loses Celery messages"),
        ({"quintet:cacheMaxmemoryPolicy": "noeviction"},
         'quintet:cacheMaxmemoryPolicy: "noeviction" is not allowed; allowed: allkeys-lru'),
        ({"quintet:cacheEngine": "valkey", "quintet:cacheEngineVersion": "6.2"},
         'quintet:cacheEngineVersion: "6.2" is not allowed; no parameter group family for valkey'),
        ({"quintet:alarmEmails": ["not-an-address"]}, "is not an email address"),
        ({"quintet:dbInstanceClass": "db.t4g.micro", "quintet:webMaxReplicas": 20},
         'quintet:dbInstanceClass: "db.t4g.micro" is not allowed; the connection budget needs'),
        ({"quintet:dbReplicas": 1, "quintet:dbBackupRetentionDays": 0},
         "quintet:dbBackupRetentionDays: 0 is not allowed with quintet:dbReplicas = 1; RDS "
         "creates read replicas only from a source with automated backups"),
    ],
)
def test_bad_data_config_fails_clearly(config_error, overrides, expected):
    assert expected in config_error("dev", overrides)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"quintet:dbBackupRetentionDays": 3},
         "quintet:dbBackupRetentionDays: 3 is not allowed in prod; keep at least 7 days"),
        ({"quintet:brokerReplicas": 0},
         "quintet:brokerReplicas: 0 is not allowed in prod; at least 1 replica"),
        ({"quintet:cacheShareOneGroup": True},
         "quintet:cacheShareOneGroup: true is not allowed in the prod tier"),
    ],
)
def test_prod_safety_rules(config_error, overrides, expected):
    assert expected in config_error("prod", overrides)
