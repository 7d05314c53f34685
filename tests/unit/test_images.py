"""Image references: parsing and matching a repository whatever tag or digest the image has."""

from __future__ import annotations

import pytest

from autopilot.images import ImageRef, pinned_image
from autopilot.refs import RepositoryRef, ecr_registry_host

REGISTRY = "123456789012.dkr.ecr.us-west-2.amazonaws.com"
SHOP = RepositoryRef(REGISTRY, "shop/web")
DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("image", "registry", "repository", "tag", "digest"),
    [
        (f"{REGISTRY}/shop/web:1.2.3", REGISTRY, "shop/web", "1.2.3", None),
        (f"{REGISTRY}/shop/web@{DIGEST}", REGISTRY, "shop/web", None, DIGEST),
        (f"{REGISTRY}/shop/web:1.2.3@{DIGEST}", REGISTRY, "shop/web", "1.2.3", DIGEST),
        (f"{REGISTRY}/shop/web", REGISTRY, "shop/web", None, None),
        ("nginx", "docker.io", "library/nginx", None, None),
        ("nginx:1.27", "docker.io", "library/nginx", "1.27", None),
        ("grafana/agent:v0.40", "docker.io", "grafana/agent", "v0.40", None),
        ("localhost:5000/app:dev", "localhost:5000", "app", "dev", None),
        (
            "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable",
            "public.ecr.aws",
            "aws-observability/aws-for-fluent-bit",
            "stable",
            None,
        ),
    ],
)
def test_image_references_parse(
    image: str, registry: str, repository: str, tag: str | None, digest: str | None
) -> None:
    ref = ImageRef.parse(image)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repository, tag, digest)


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (f"{REGISTRY}/shop/web:latest", True),
        (f"{REGISTRY}/shop/web@{DIGEST}", True),
        (f"{REGISTRY.upper()}/shop/web:1", True),  # registry hosts are case-insensitive
        (f"{REGISTRY}/shop/web-worker:latest", False),
        (f"{REGISTRY}/shop:latest", False),
        ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/web:latest", False),  # another region's registry
        ("shop/web:latest", False),  # Docker Hub
    ],
)
def test_matching_a_repository_needs_host_and_name(image: str, expected: bool) -> None:
    assert ImageRef.parse(image).in_repository(SHOP) is expected


def test_pinned_image_by_digest_or_tag() -> None:
    assert pinned_image(SHOP, tag="1.2.3", digest=DIGEST, pin="digest") == f"{REGISTRY}/shop/web@{DIGEST}"
    assert pinned_image(SHOP, tag="1.2.3", digest=DIGEST, pin="tag") == f"{REGISTRY}/shop/web:1.2.3"


def test_registry_hosts_of_regular_and_china_regions() -> None:
    assert ecr_registry_host("123456789012", "us-west-2") == REGISTRY
    assert ecr_registry_host("123456789012", "cn-north-1") == "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn"


def test_an_empty_reference_is_an_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        ImageRef.parse("  ")
