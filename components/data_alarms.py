"""Alarms of the data tier: an SNS topic with email subscribers and the CloudWatch alarms that
say the database or the Redis groups are in trouble."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

GIB = 1024**3


@dataclass(frozen=True)
class DataAlarmsArgs:
    """Inputs of the data-tier alarms."""

    primary_identifier: pulumi.Input[str]
    """RDS identifier of the primary."""
    replica_identifiers: list[pulumi.Input[str]]
    """RDS identifiers of the read replicas."""
    max_connections: int
    """The parameter group's ``max_connections``."""
    allocated_storage_gib: int
    """The primary's allocated storage (the free-storage threshold is a share of it)."""
    cache_node_ids: list[str]
    """ElastiCache node ids of the cache group."""
    broker_node_ids: list[str]
    """ElastiCache node ids of the broker group."""
    emails: list[str] = field(default_factory=list)
    """Email addresses subscribed to the topic (each must confirm by mail)."""
    replica_lag_seconds: int = 30
    """Replica lag above this alarms."""
    cpu_percent: int = 80
    """Primary CPU above this (5-minute average, 3 periods) alarms."""
    free_storage_percent: int = 10
    """Free storage below this share of the allocation alarms."""
    connections_percent: int = 80
    """Connections above this share of ``max_connections`` alarm."""
    cache_evictions_per_5min: int = 1000
    """Cache evictions above this per 5 minutes alarm (some eviction is the LRU working)."""
    broker_memory_percent: int = 80
    """Broker memory use above this alarms: a full noeviction broker refuses new tasks."""
    any_broker_eviction: bool = True
    """Alarm on a single broker eviction (off only when dev shares one evicting group)."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags merged into every resource's own."""


def subscription_suffix(email: str) -> str:
    """A stable name part per address, so reordering the list replaces nothing."""
    return hashlib.sha256(email.lower().encode()).hexdigest()[:8]


class DataAlarms(pulumi.ComponentResource):
    """Creates: an SNS topic, one email subscription per address, and CloudWatch alarms for
    replica lag, primary CPU, free storage, connections near ``max_connections``, cache
    evictions, broker memory and any broker eviction; every alarm notifies the topic."""

    topic_arn: pulumi.Output[str]
    alarm_names: list[str]

    def __init__(
        self, name: str, args: DataAlarmsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("quintet:alarms:DataAlarms", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # Not KMS-encrypted: CloudWatch cannot publish to a topic under the AWS-managed SNS key,
        # and alarm notifications carry no secrets.
        topic = aws.sns.Topic(
            f"{name}-topic", tags={**args.tags, "Name": f"{name}-topic"}, opts=child
        )
        for email in args.emails:
            aws.sns.TopicSubscription(
                f"{name}-email-{subscription_suffix(email)}",
                topic=topic.arn,
                protocol="email",
                endpoint=email,
                opts=child,
            )
        self.alarm_names = []

        def alarm(suffix: str, description: str, **kwargs: object) -> None:
            self.alarm_names.append(f"{name}-{suffix}")
            aws.cloudwatch.MetricAlarm(
                f"{name}-{suffix}",
                alarm_description=description,
                alarm_actions=[topic.arn],
                ok_actions=[topic.arn],
                tags={**args.tags, "Name": f"{name}-{suffix}"},
                opts=child,
                **kwargs,  # type: ignore[arg-type]
            )

        def rds(identifier: pulumi.Input[str]) -> dict[str, object]:
            return {"namespace": "AWS/RDS", "dimensions": {"DBInstanceIdentifier": identifier}}

        def redis(node_id: str) -> dict[str, object]:
            return {"namespace": "AWS/ElastiCache", "dimensions": {"CacheClusterId": node_id}}

        for index, replica in enumerate(args.replica_identifiers, start=1):
            alarm(
                f"replica-{index}-lag",
                f"Replica {index} lags the primary by more than {args.replica_lag_seconds} s: "
                "reads there are stale",
                metric_name="ReplicaLag", statistic="Maximum", period=60, evaluation_periods=5,
                comparison_operator="GreaterThanThreshold", threshold=args.replica_lag_seconds,
                treat_missing_data="breaching", **rds(replica),
            )
        alarm(
            "primary-cpu",
            f"Primary CPU above {args.cpu_percent} % for 15 minutes",
            metric_name="CPUUtilization", statistic="Average", period=300, evaluation_periods=3,
            comparison_operator="GreaterThanThreshold", threshold=args.cpu_percent,
            **rds(args.primary_identifier),
        )
        free_bytes = args.allocated_storage_gib * GIB * args.free_storage_percent // 100
        alarm(
            "primary-free-storage",
            f"Primary free storage below {args.free_storage_percent} % of "
            f"{args.allocated_storage_gib} GiB",
            metric_name="FreeStorageSpace", statistic="Minimum", period=300,
            evaluation_periods=1, comparison_operator="LessThanThreshold", threshold=free_bytes,
            **rds(args.primary_identifier),
        )
        connections = args.max_connections * args.connections_percent // 100
        instances = [("primary", args.primary_identifier)] + [
            (f"replica-{i}", r) for i, r in enumerate(args.replica_identifiers, start=1)
        ]
        for label, identifier in instances:
            alarm(
                f"{label}-connections",
                f"{label}: connections above {args.connections_percent} % of max_connections "
                f"({connections} of {args.max_connections})",
                metric_name="DatabaseConnections", statistic="Maximum", period=60,
                evaluation_periods=5, comparison_operator="GreaterThanThreshold",
                threshold=connections, **rds(identifier),
            )
        for node in args.cache_node_ids:
            alarm(
                f"{node}-evictions",
                f"Cache node {node}: more than {args.cache_evictions_per_5min} evictions in "
                "5 minutes (the cache is too small for its working set)",
                metric_name="Evictions", statistic="Sum", period=300, evaluation_periods=1,
                comparison_operator="GreaterThanThreshold",
                threshold=args.cache_evictions_per_5min, treat_missing_data="notBreaching",
                **redis(node),
            )
        for node in args.broker_node_ids:
            alarm(
                f"{node}-memory",
                f"Broker node {node}: memory above {args.broker_memory_percent} %; at 100 % "
                "noeviction refuses new tasks",
                metric_name="DatabaseMemoryUsagePercentage", statistic="Maximum", period=60,
                evaluation_periods=3, comparison_operator="GreaterThanThreshold",
                threshold=args.broker_memory_percent, **redis(node),
            )
            if args.any_broker_eviction and node not in args.cache_node_ids:
                alarm(
                    f"{node}-evictions",
                    f"Broker node {node} evicted a key: Celery messages may be lost",
                    metric_name="Evictions", statistic="Sum", period=60, evaluation_periods=1,
                    comparison_operator="GreaterThanThreshold", threshold=0,
                    treat_missing_data="notBreaching", **redis(node),
                )

        self.topic_arn = topic.arn
        self.register_outputs({"topic_arn": self.topic_arn, "alarm_names": self.alarm_names})
