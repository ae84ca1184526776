"""The uploads bucket: users' files go straight to S3 (presigned POSTs), never to a pod's disk."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.cluster_software import POD_IDENTITY_TRUST
from components.common import name_tagger, rotating_key

UPLOADS_PREFIX = "uploads/"
"""The only key prefix the app may write or read; presigned keys are ``uploads/<principal>/...``."""
OBJECT_ACTIONS = ("s3:PutObject", "s3:GetObject")
"""What the web pods may do, and only on objects under the prefix (HEAD is s3:GetObject)."""
SWEEP_ACTIONS = ("s3:DeleteObject",)
"""What the workers may do under the prefix: the beat-scheduled sweep deletes unconfirmed and
refused uploads. Nothing else: they never read or write a user's file."""


@dataclass(frozen=True)
class UploadsBucketArgs:
    """Inputs of the uploads bucket."""

    bucket_name: str
    """Globally unique S3 bucket name (S3 naming rules: 3-63 lowercase characters)."""
    allowed_origin: str
    """The one origin browsers may POST from (``https://<domain>``): the CORS rule's only entry."""
    versioning: bool
    """Keep every version of an object (a tier decision: prod keeps them)."""
    noncurrent_version_days: int
    """Days a superseded or deleted version lives before it expires."""
    abort_multipart_days: int
    """Days an incomplete multipart upload lives before its parts are removed."""
    cluster_name: pulumi.Input[str]
    """The EKS cluster whose web pods get the Pod Identity role."""
    namespace: str
    """Namespace of the web pods."""
    service_account: str
    """Service account of the web pods (put and get)."""
    sweep_service_account: str
    """Service account of the Celery workers (delete only: the sweep of unconfirmed uploads)."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags merged into every child's own."""


def tls_only_policy(bucket_arn: str) -> str:
    """The bucket policy: deny every request not made over TLS."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket_arn, f"{bucket_arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        },
        sort_keys=True,
    )


def web_access_policy(bucket_arn: str, key_arn: str) -> str:
    """The web pods' policy: put and get objects under the uploads prefix, list only that prefix,
    and the KMS calls SSE-KMS needs, made through S3 only."""
    region = key_arn.split(":")[3]
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "UploadsObjects",
                    "Effect": "Allow",
                    "Action": list(OBJECT_ACTIONS),
                    "Resource": f"{bucket_arn}/{UPLOADS_PREFIX}*",
                },
                {
                    # Without s3:ListBucket, S3 answers a HEAD of a missing key 403, not 404:
                    # the confirmation could not tell "not arrived yet" from "forbidden".
                    "Sid": "UploadsList",
                    "Effect": "Allow",
                    "Action": "s3:ListBucket",
                    "Resource": bucket_arn,
                    "Condition": {"StringLike": {"s3:prefix": f"{UPLOADS_PREFIX}*"}},
                },
                {
                    "Sid": "UploadsKey",
                    "Effect": "Allow",
                    "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                    "Resource": key_arn,
                    # The key serves S3 on the pods' behalf, never a direct Decrypt call.
                    "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
                },
            ],
        },
        sort_keys=True,
    )


def sweep_policy(bucket_arn: str) -> str:
    """The workers' policy: delete objects under the uploads prefix, nothing else (a delete
    needs no KMS call)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "UploadsSweep",
                    "Effect": "Allow",
                    "Action": list(SWEEP_ACTIONS),
                    "Resource": f"{bucket_arn}/{UPLOADS_PREFIX}*",
                }
            ],
        },
        sort_keys=True,
    )


class UploadsBucket(pulumi.ComponentResource):
    """Creates: a KMS key, the bucket (owner-enforced, public access blocked, SSE-KMS with the
    key, versioning by tier, lifecycle and CORS rules, a TLS-only policy), and the web pods'
    Pod Identity role allowed only s3:PutObject/GetObject under ``uploads/``, and the workers'
    allowed only s3:DeleteObject there (the sweep)."""

    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    web_role_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: UploadsBucketArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("quintet:uploads:UploadsBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = name_tagger(name, args.tags)
        key = rotating_key(
            f"{name}-key", "quintet uploads bucket encryption", tags("key"), child
        )
        bucket = aws.s3.Bucket(
            f"{name}-bucket", bucket=args.bucket_name, tags=tags("bucket"), opts=child
        )
        after_bucket = pulumi.ResourceOptions(parent=self, depends_on=[bucket])
        # ACLs off: the bucket owner owns every object, so no ACL can make one public.
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=after_bucket,
        )
        public_block = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=after_bucket,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {
                        "sse_algorithm": "aws:kms",
                        "kms_master_key_id": key.arn,
                    },
                    # S3 Bucket Keys: one KMS call per bucket key, not per object.
                    "bucket_key_enabled": True,
                }
            ],
            opts=after_bucket,
        )
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration={
                "status": "Enabled" if args.versioning else "Suspended"
            },
            opts=after_bucket,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            rules=[
                {
                    "id": "abort-incomplete-multipart",
                    "status": "Enabled",
                    "filter": {"prefix": ""},
                    "abort_incomplete_multipart_upload": {
                        "days_after_initiation": args.abort_multipart_days
                    },
                },
                {
                    "id": "expire-noncurrent-versions",
                    "status": "Enabled",
                    "filter": {"prefix": ""},
                    "noncurrent_version_expiration": {
                        "noncurrent_days": args.noncurrent_version_days
                    },
                },
            ],
            # A lifecycle rule on noncurrent versions needs versioning's state settled first.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]),
        )
        aws.s3.BucketCorsConfiguration(
            f"{name}-cors",
            bucket=bucket.id,
            cors_rules=[
                {
                    "allowed_methods": ["POST"],
                    "allowed_origins": [args.allowed_origin],
                    "allowed_headers": ["*"],
                    "max_age_seconds": 3000,
                }
            ],
            opts=after_bucket,
        )
        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket.id,
            policy=bucket.arn.apply(tls_only_policy),
            # S3 refuses a policy while the public access block is being set up.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_block]),
        )
        def pod_role(what: str, service_account: str, policy: pulumi.Output[str]) -> aws.iam.Role:
            role = aws.iam.Role(
                f"{name}-{what}-role",
                assume_role_policy=POD_IDENTITY_TRUST,
                tags=tags(f"{what}-role"),
                opts=child,
            )
            aws.iam.RolePolicy(f"{name}-{what}-policy", role=role.id, policy=policy, opts=child)
            aws.eks.PodIdentityAssociation(
                f"{name}-{what}-identity",
                cluster_name=args.cluster_name,
                namespace=args.namespace,
                service_account=service_account,
                role_arn=role.arn,
                opts=child,
            )
            return role

        role = pod_role(
            "web",
            args.service_account,
            pulumi.Output.all(bucket.arn, key.arn).apply(
                lambda arns: web_access_policy(arns[0], arns[1])
            ),
        )
        pod_role("sweep", args.sweep_service_account, bucket.arn.apply(sweep_policy))
        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.web_role_arn = role.arn
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "bucket_arn": self.bucket_arn,
                "web_role_arn": self.web_role_arn,
            }
        )
