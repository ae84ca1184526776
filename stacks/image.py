"""Which app image a stack deploys, and what to do when it names none yet (the first deploy).

The workloads are declared only once ``quintet:imageTag`` (or ``quintet:imageDigest``) names an
image that is in the registry. The registry is created by the program itself, so on a fresh
account the first ``pulumi up`` creates the network, data tier, cluster and registry, and its
outputs print the exact commands that push the image and run the second ``up``. Building and
pushing from inside the program was the other way; it was not chosen because it puts a Docker
daemon and a build context into every ``pulumi preview`` (CI previews run on forks, without
Docker credentials), and CI already builds once and deploys the same image to staging and prod.
"""

from __future__ import annotations

import pulumi

from stacks.settings import Settings

# The tag the offline tooling (plan snapshots, diagrams, tests) deploys when a stack names none,
# so that they show the steady state; a real stack never gets it (CI passes the commit sha).
OFFLINE_IMAGE_TAG = "offline-plan"


def names_an_image(settings: Settings) -> bool:
    """True once the stack names an image by tag or digest: the workloads can be declared."""
    return bool(settings.image.tag or settings.image.digest)


def image_reference(repository: str, tag: str, digest: str) -> str:
    """``repo:tag``, ``repo@digest`` or ``repo:tag@digest`` (the digest wins when both)."""
    reference = repository
    if tag:
        reference += f":{tag}"
    if digest:
        reference += f"@{digest}"
    return reference


def push_commands(repository_url: str, region: str, aws_profile: str | None = None) -> str:
    """The shell lines that build, push and deploy the app image into a fresh registry."""
    registry = repository_url.split("/", 1)[0]
    profile = f" --profile {aws_profile}" if aws_profile else ""
    return "\n".join(
        [
            'TAG="$(git rev-parse --short=12 HEAD)"',
            f"aws ecr get-login-password --region {region}{profile} | "
            f"docker login --username AWS --password-stdin {registry}",
            f'docker build -t "{repository_url}:$TAG" app_image',
            f'docker push "{repository_url}:$TAG"',
            'pulumi config set quintet:imageTag "$TAG"',
            "pulumi up",
        ]
    )


def export_first_deploy(
    repository_url: pulumi.Output[str], region: str, aws_profile: str | None = None
) -> None:
    """Stack outputs of a run without an image: why the workloads wait, and the next step."""
    pulumi.export(
        "next_step",
        "quintet:imageTag is unset, so the workloads are not declared yet: push the app image "
        "with the commands in image_push_commands, then run `pulumi up` again",
    )
    pulumi.export(
        "image_push_commands",
        repository_url.apply(lambda u: push_commands(u, region, aws_profile)),
    )
