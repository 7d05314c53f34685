"""Task definition revisions: the current one with only the image of the selected containers changed."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from autopilot.images import ImageRef
from autopilot.refs import RepositoryRef

# The fields RegisterTaskDefinition accepts; everything DescribeTaskDefinition adds (ARN, revision, status,
# requiresAttributes, compatibilities, registeredAt/By, deregisteredAt) is left out.
REGISTER_FIELDS = (
    "family",
    "taskRoleArn",
    "executionRoleArn",
    "networkMode",
    "containerDefinitions",
    "volumes",
    "placementConstraints",
    "requiresCompatibilities",
    "cpu",
    "memory",
    "pidMode",
    "ipcMode",
    "proxyConfiguration",
    "inferenceAccelerators",
    "ephemeralStorage",
    "runtimePlatform",
    "enableFaultInjection",
)


class ContainerSelectionError(ValueError):
    """`autopilot:containers` names a container the task definition does not have."""


@dataclass(frozen=True)
class ContainerImage:
    name: str
    image: str

    @property
    def ref(self) -> ImageRef | None:
        try:
            return ImageRef.parse(self.image)
        except ValueError:
            return None


def container_images(body: dict[str, Any]) -> list[ContainerImage]:
    return [
        ContainerImage(str(c.get("name", "")), str(c.get("image", ""))) for c in body.get("containerDefinitions", [])
    ]


def repositories_used(body: dict[str, Any]) -> set[RepositoryRef]:
    return {ref.repository_ref for c in container_images(body) if (ref := c.ref) is not None}


def select_containers(body: dict[str, Any], repository: RepositoryRef, names: tuple[str, ...] | None) -> list[str]:
    """Containers to update for a push to `repository`.

    Without `names`: every container whose image is in the repository (registry host and name match,
    whatever tag or digest it has). With `names`: those of the named containers whose image is in the
    repository (a named container from another repository waits for pushes to its own)."""
    images = container_images(body)
    in_repo = [c.name for c in images if (ref := c.ref) is not None and ref.in_repository(repository)]
    if names is None:
        return in_repo
    missing = [name for name in names if name not in {c.name for c in images}]
    if missing:
        have = ", ".join(c.name for c in images)
        raise ContainerSelectionError(
            f"autopilot:containers names {', '.join(missing)}, not in {body.get('family')}:{body.get('revision')} "
            f"(containers: {have})"
        )
    return [name for name in names if name in in_repo]


def registration_request(
    body: dict[str, Any], tags: tuple[dict[str, str], ...], images: dict[str, str]
) -> dict[str, Any]:
    """RegisterTaskDefinition input: `body` with `images` (container name → image) applied."""
    request = {key: copy.deepcopy(body[key]) for key in REGISTER_FIELDS if body.get(key) not in (None, [], {})}
    for container in request.get("containerDefinitions", []):
        if container.get("name") in images:
            container["image"] = images[container["name"]]
    if tags:
        request["tags"] = [dict(tag) for tag in tags]
    return request


def image_changes(body: dict[str, Any], images: dict[str, str]) -> list[tuple[str, str, str]]:
    """(container, old image, new image) for each container whose image would change."""
    return [
        (c.name, c.image, images[c.name])
        for c in container_images(body)
        if c.name in images and c.image != images[c.name]
    ]
