"""The uploads bucket under mocks: private, SSE-KMS with its own key, versioning by tier,
lifecycle, CORS for the stack's domain only, TLS-only policy, and a web-only Pod Identity role
that may put and get objects under ``uploads/`` and nothing else."""

from __future__ import annotations

import json

import pytest

from offline.mocks import ACCOUNT_ID, ProgramRun

BUCKET = "aws:s3/bucket:Bucket"
IDENTITY = "aws:eks/podIdentityAssociation:PodIdentityAssociation"


def one(run: ProgramRun, type_token: str) -> dict:
    """Inputs of the uploads component's single resource of this type."""
    found = [r for r in run.of_type(type_token) if r.name.startswith("uploads-")]
    assert len(found) == 1, [r.name for r in found]
    return found[0].inputs


def test_the_bucket_is_named_by_stack_within_s3_rules(stack_run) -> None:
    for stack in ("dev", "staging", "prod"):
        name = one(stack_run(stack), BUCKET)["bucket"]
        assert name == f"quintet-{stack}-uploads"
        assert 3 <= len(name) <= 63 and name == name.lower()


def test_public_access_is_blocked_and_acls_are_off(stack_run) -> None:
    run = stack_run("dev")
    block = one(run, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert {k: block[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                  "restrictPublicBuckets")} == dict.fromkeys(
        ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"),
        True)
    ownership = one(run, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    assert ownership["rule"]["objectOwnership"] == "BucketOwnerEnforced"


def test_objects_are_encrypted_with_the_buckets_rotating_kms_key(stack_run) -> None:
    run = stack_run("prod")
    config = one(
        run,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    )
    default = config["rules"][0]["applyServerSideEncryptionByDefault"]
    assert default["sseAlgorithm"] == "aws:kms"
    key = run.named("uploads-key")
    assert default["kmsMasterKeyId"] == key.outputs["arn"]
    assert key.inputs["enableKeyRotation"] is True
    assert config["rules"][0]["bucketKeyEnabled"] is True


@pytest.mark.parametrize(("stack", "status"), [
    ("dev", "Suspended"), ("staging", "Enabled"), ("prod", "Enabled")])
def test_versioning_follows_the_tier(stack_run, stack, status) -> None:
    versioning = one(stack_run(stack), "aws:s3/bucketVersioning:BucketVersioning")
    assert versioning["versioningConfiguration"]["status"] == status


def test_versioning_can_be_switched_by_the_stack(run_with) -> None:
    versioning = one(run_with("dev", {"quintet:uploadsVersioning": True}),
                     "aws:s3/bucketVersioning:BucketVersioning")
    assert versioning["versioningConfiguration"]["status"] == "Enabled"


def test_lifecycle_aborts_multipart_uploads_and_expires_old_versions(stack_run) -> None:
    rules = {r["id"]: r for r in one(
        stack_run("prod"), "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
    )["rules"]}
    assert rules["abort-incomplete-multipart"]["abortIncompleteMultipartUpload"] == {
        "daysAfterInitiation": 1}
    assert rules["expire-noncurrent-versions"]["noncurrentVersionExpiration"] == {
        "noncurrentDays": 90}
    assert all(r["status"] == "Enabled" for r in rules.values())


def test_cors_admits_only_the_stacks_domain_and_only_post(stack_run) -> None:
    rules = one(stack_run("prod"), "aws:s3/bucketCorsConfiguration:BucketCorsConfiguration")[
        "corsRules"]
    assert [r["allowedOrigins"] for r in rules] == [["https://www.example.com"]]
    assert [r["allowedMethods"] for r in rules] == [["POST"]]


def test_the_bucket_policy_denies_every_request_without_tls(stack_run) -> None:
    policy = json.loads(one(stack_run("dev"), "aws:s3/bucketPolicy:BucketPolicy")["policy"])
    [statement] = policy["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == "*"
    assert statement["Action"] == "s3:*"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    arn = "arn:aws:s3:::quintet-dev-uploads"
    assert statement["Resource"] == [arn, f"{arn}/*"]


def test_only_the_web_pods_may_put_and_get_and_only_under_uploads(stack_run) -> None:
    run = stack_run("prod")
    policy = json.loads(run.named("uploads-web-policy").inputs["policy"])
    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert statements["UploadsObjects"]["Action"] == ["s3:PutObject", "s3:GetObject"]
    assert statements["UploadsObjects"]["Resource"] == "arn:aws:s3:::quintet-prod-uploads/uploads/*"
    assert statements["UploadsKey"]["Action"] == ["kms:GenerateDataKey", "kms:Decrypt"]
    assert statements["UploadsKey"]["Resource"] == run.named("uploads-key").outputs["arn"]
    # The key only through S3 (never a direct Decrypt), in the stack's region.
    assert statements["UploadsKey"]["Condition"] == {
        "StringEquals": {"kms:ViaService": "s3.eu-west-2.amazonaws.com"}}
    # Listing only the prefix: S3 answers a HEAD of a missing key 404 (not 403) only with it.
    assert statements["UploadsList"] == {
        "Sid": "UploadsList", "Effect": "Allow", "Action": "s3:ListBucket",
        "Resource": "arn:aws:s3:::quintet-prod-uploads",
        "Condition": {"StringLike": {"s3:prefix": "uploads/*"}}}
    assert set(statements) == {"UploadsObjects", "UploadsList", "UploadsKey"}
    identity = run.named("uploads-web-identity").inputs
    assert (identity["namespace"], identity["serviceAccount"]) == ("quintet", "web")
    assert identity["roleArn"] == run.named("uploads-web-role").outputs["arn"]
    # Nothing else in the stack names the bucket in an IAM policy but the workers' sweep.
    for r in run.resources:
        if r.type in ("aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy") and (
            r.name not in ("uploads-web-policy", "uploads-sweep-policy")
        ):
            assert "quintet-prod-uploads" not in json.dumps(r.inputs), r.name
    assert ACCOUNT_ID not in statements["UploadsObjects"]["Resource"]


def test_the_workers_may_only_delete_under_uploads_for_the_sweep(stack_run) -> None:
    run = stack_run("prod")
    [statement] = json.loads(run.named("uploads-sweep-policy").inputs["policy"])["Statement"]
    assert statement["Action"] == ["s3:DeleteObject"]
    assert statement["Resource"] == "arn:aws:s3:::quintet-prod-uploads/uploads/*"
    identity = run.named("uploads-sweep-identity").inputs
    assert (identity["namespace"], identity["serviceAccount"]) == ("quintet", "worker")
    identities = {r.inputs["serviceAccount"] for r in run.of_type(IDENTITY)
                  if r.inputs.get("namespace") == "quintet"}
    assert identities == {"web", "worker"}
