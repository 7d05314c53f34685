"""Container image references: parsing, matching a repository, and writing a pinned reference."""

from __future__ import annotations

import re
from dataclasses import dataclass

from autopilot.refs import RepositoryRef

DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-fA-F0-9]{32,}$")
DOCKER_HUB = "docker.io"


@dataclass(frozen=True)
class ImageRef:
    """`[REGISTRY/]REPOSITORY[:TAG][@DIGEST]`, as written in a container definition."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, image: str) -> ImageRef:
        text = image.strip()
        if not text:
            raise ValueError("empty image reference")
        rest, _, digest = text.partition("@")
        first, sep, remainder = rest.partition("/")
        if sep and ("." in first or ":" in first or first == "localhost"):
            registry, path = first.lower(), remainder
        else:
            registry, path = DOCKER_HUB, rest
        name, _, tag = _split_tag(path)
        if not name:
            raise ValueError(f"no repository in image reference {image!r}")
        if registry == DOCKER_HUB and "/" not in name:
            name = f"library/{name}"
        return cls(registry=registry, repository=name, tag=tag or None, digest=digest or None)

    @property
    def repository_ref(self) -> RepositoryRef:
        return RepositoryRef(self.registry, self.repository)

    def in_repository(self, repository: RepositoryRef) -> bool:
        return self.registry == repository.registry.lower() and self.repository == repository.name


def _split_tag(path: str) -> tuple[str, str, str]:
    slash = path.rfind("/")
    colon = path.rfind(":")
    if colon > slash:
        return path[:colon], ":", path[colon + 1 :]
    return path, "", ""


def pinned_image(repository: RepositoryRef, *, tag: str, digest: str, pin: str) -> str:
    """The image string written into a new revision: `REGISTRY/REPO@sha256:…` or `REGISTRY/REPO:TAG`."""
    if pin == "tag":
        return f"{repository}:{tag}"
    return f"{repository}@{digest}"


def is_digest(value: str) -> bool:
    return bool(DIGEST.match(value))
