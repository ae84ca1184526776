"""The relational tier: an RDS Postgres primary, its read replicas, and what they need."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.data_catalog import POSTGRES_STORAGE_TYPE, postgres_family

POSTGRES_PORT = 5432
STORAGE_TYPE = POSTGRES_STORAGE_TYPE
# 7 days of Performance Insights is the free tier; longer retention is billed per vCPU.
PERFORMANCE_INSIGHTS_DAYS = 7


@dataclass(frozen=True)
class DatabaseArgs:
    """Inputs of the database tier."""

    identifier: str
    """RDS identifier of the primary; replicas are ``<identifier>-replica-<n>``."""
    vpc_id: pulumi.Input[str]
    """VPC of the security group."""
    subnet_ids: list[pulumi.Input[str]]
    """Isolated subnets of the DB subnet group (one per AZ)."""
    client_security_group_id: pulumi.Input[str]
    """The only security group admitted on 5432 (the EKS nodes and pods)."""
    availability_zones: list[str]
    """AZs the replicas are spread across, starting after the first."""
    engine_version: str
    """Postgres version, e.g. ``17`` (minor upgrades automatic) or ``17.4``."""
    instance_class: str
    """Instance class of the primary and the replicas."""
    max_connections: int
    """``max_connections`` of the parameter group (from ``connection_budget``)."""
    replicas: int = 0
    """Read replicas."""
    multi_az: bool = False
    """A synchronous standby for the primary in another AZ."""
    allocated_storage_gib: int = 20
    """Initial gp3 storage."""
    max_allocated_storage_gib: int = 100
    """Storage autoscaling ceiling (equal to the allocation: no autoscaling)."""
    backup_retention_days: int = 1
    """Automated backup retention."""
    deletion_protection: bool = False
    """Refuse deletion of the primary and the replicas."""
    final_snapshot: bool = False
    """Take a final snapshot when the primary is deleted."""
    db_name: str = "app"
    """Database created on the primary."""
    master_username: str = "quintet_admin"
    """Master user; its password is generated and kept by AWS in Secrets Manager."""
    statement_timeout_ms: int = 30000
    """Server default ``statement_timeout``; a role's own setting overrides it."""
    log_min_duration_ms: int = 500
    """Statements slower than this are logged (``log_min_duration_statement``)."""
    maintenance_window: str = "sun:03:00-sun:04:00"
    """When minor upgrades and pending changes apply (UTC)."""
    backup_window: str = "01:00-02:00"
    """Daily backup window (UTC); must not overlap the maintenance window."""
    apply_immediately: bool = False
    """Apply modifications now instead of in the maintenance window."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags merged into every resource's own."""


def parameters(args: DatabaseArgs) -> list[dict[str, str]]:
    """The parameter group's parameters; static ones wait for a reboot, as RDS requires."""
    return [
        # Static parameters: RDS refuses "immediate" for them.
        {"name": "shared_preload_libraries", "value": "pg_stat_statements",
         "apply_method": "pending-reboot"},
        {"name": "max_connections", "value": str(args.max_connections),
         "apply_method": "pending-reboot"},
        # Dynamic parameters.
        {"name": "statement_timeout", "value": str(args.statement_timeout_ms),
         "apply_method": "immediate"},
        {"name": "log_min_duration_statement", "value": str(args.log_min_duration_ms),
         "apply_method": "immediate"},
        {"name": "pg_stat_statements.track", "value": "top", "apply_method": "immediate"},
        {"name": "rds.force_ssl", "value": "1", "apply_method": "immediate"},
    ]


class Database(pulumi.ComponentResource):
    """Creates: a KMS key (rotation on), a DB subnet group in the isolated subnets, a security
    group admitting 5432 only from the client security group, a parameter group for the
    version's family, the primary (encrypted, master password managed by AWS in Secrets Manager,
    Performance Insights, automatic minor upgrades) and N read replicas spread across AZs."""

    kms_key_arn: pulumi.Output[str]
    security_group_id: pulumi.Output[str]
    primary_identifier: pulumi.Output[str]
    replica_identifiers: list[pulumi.Output[str]]
    writer_address: pulumi.Output[str]
    writer_endpoint: pulumi.Output[str]
    replica_addresses: pulumi.Output[list[str]]
    port: pulumi.Output[int]
    db_name: str
    master_username: str
    master_user_secret_arn: pulumi.Output[str]
    max_connections: int
    allocated_storage_gib: int

    def __init__(
        self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("quintet:database:Database", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        def tags(resource: str) -> dict[str, str]:
            return {**args.tags, "Name": f"{name}-{resource}"}

        key = aws.kms.Key(
            f"{name}-key",
            description=f"{args.identifier}: RDS storage, Performance Insights, master secret",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            tags=tags("key"),
            opts=child,
        )
        subnet_group = aws.rds.SubnetGroup(
            f"{name}-subnets",
            description=f"{args.identifier}: isolated subnets",
            subnet_ids=args.subnet_ids,
            tags=tags("subnets"),
            opts=child,
        )
        security_group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            vpc_id=args.vpc_id,
            description="Postgres: 5432 from the nodes only",
            # No egress at all: the database initiates no connections.
            egress=[],
            tags=tags("sg"),
            opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-from-nodes",
            security_group_id=security_group.id,
            ip_protocol="tcp",
            from_port=POSTGRES_PORT,
            to_port=POSTGRES_PORT,
            referenced_security_group_id=args.client_security_group_id,
            description="postgres from the nodes",
            opts=child,
        )
        parameter_group = aws.rds.ParameterGroup(
            f"{name}-params",
            family=postgres_family(args.engine_version),
            description=f"{args.identifier}: pg_stat_statements, timeouts, max_connections",
            parameters=parameters(args),
            tags=tags("params"),
            opts=child,
        )

        common = {
            "instance_class": args.instance_class,
            "parameter_group_name": parameter_group.name,
            "vpc_security_group_ids": [security_group.id],
            "storage_encrypted": True,
            "kms_key_id": key.arn,
            "max_allocated_storage": args.max_allocated_storage_gib,
            "performance_insights_enabled": True,
            "performance_insights_kms_key_id": key.arn,
            "performance_insights_retention_period": PERFORMANCE_INSIGHTS_DAYS,
            "auto_minor_version_upgrade": True,
            "maintenance_window": args.maintenance_window,
            "deletion_protection": args.deletion_protection,
            "publicly_accessible": False,
            "copy_tags_to_snapshot": True,
            "apply_immediately": args.apply_immediately,
        }
        primary = aws.rds.Instance(
            f"{name}-primary",
            identifier=args.identifier,
            engine="postgres",
            engine_version=args.engine_version,
            db_name=args.db_name,
            username=args.master_username,
            # AWS generates and rotates the password in Secrets Manager: it never passes
            # through config, state or the plan.
            manage_master_user_password=True,
            master_user_secret_kms_key_id=key.arn,
            db_subnet_group_name=subnet_group.name,
            port=POSTGRES_PORT,
            allocated_storage=args.allocated_storage_gib,
            storage_type=STORAGE_TYPE,
            multi_az=args.multi_az,
            backup_retention_period=args.backup_retention_days,
            backup_window=args.backup_window,
            skip_final_snapshot=not args.final_snapshot,
            final_snapshot_identifier=f"{args.identifier}-final" if args.final_snapshot else None,
            delete_automated_backups=not args.final_snapshot,
            tags=tags("primary"),
            opts=child,
            **common,
        )
        replicas = []
        for index in range(args.replicas):
            # The first AZ is the primary's subnet group's first; replicas start one further on.
            zone = args.availability_zones[(index + 1) % len(args.availability_zones)]
            replicas.append(
                aws.rds.Instance(
                    f"{name}-replica-{index + 1}",
                    identifier=f"{args.identifier}-replica-{index + 1}",
                    # Same region: the source's identifier; engine, storage, subnet group and
                    # credentials are inherited from it.
                    replicate_source_db=primary.identifier,
                    availability_zone=zone,
                    multi_az=False,
                    backup_retention_period=0,
                    skip_final_snapshot=True,
                    tags=tags(f"replica-{index + 1}"),
                    opts=child,
                    **common,
                )
            )

        self.kms_key_arn = key.arn
        self.security_group_id = security_group.id
        self.primary_identifier = primary.identifier
        self.replica_identifiers = [r.identifier for r in replicas]
        self.writer_address = primary.address
        self.writer_endpoint = primary.endpoint
        self.replica_addresses = pulumi.Output.all(*[r.address for r in replicas])
        self.port = primary.port
        self.db_name = args.db_name
        self.master_username = args.master_username
        self.master_user_secret_arn = primary.master_user_secrets.apply(
            lambda secrets: secrets[0].secret_arn if secrets else ""
        )
        self.max_connections = args.max_connections
        self.allocated_storage_gib = args.allocated_storage_gib
        self.register_outputs(
            {
                "kms_key_arn": self.kms_key_arn,
                "security_group_id": self.security_group_id,
                "primary_identifier": self.primary_identifier,
                "replica_identifiers": self.replica_identifiers,
                "writer_address": self.writer_address,
                "writer_endpoint": self.writer_endpoint,
                "replica_addresses": self.replica_addresses,
                "port": self.port,
                "db_name": self.db_name,
                "master_username": self.master_username,
                "master_user_secret_arn": self.master_user_secret_arn,
                "max_connections": self.max_connections,
            }
        )
