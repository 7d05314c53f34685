"""ECR, read by the reconciler: a repository's tagged images, one paginated DescribeImages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient


@dataclass(frozen=True)
class TaggedImage:
    tag: str
    digest: str
    pushed_at: datetime


class Registry:
    def __init__(self, client: ECRClient) -> None:
        self._client = client

    def tagged_images(self, account: str, repository: str) -> list[TaggedImage]:
        """Every tag of the repository and the image it points at (1000 images a page); [] when the repository
        is gone (RepositoryNotFoundException)."""
        paginator = self._client.get_paginator("describe_images")
        found: list[TaggedImage] = []
        try:
            for page in paginator.paginate(
                registryId=account,
                repositoryName=repository,
                filter={"tagStatus": "TAGGED"},
                PaginationConfig={"PageSize": 1000},
            ):
                for detail in page.get("imageDetails", []):
                    found.extend(
                        TaggedImage(tag=tag, digest=detail["imageDigest"], pushed_at=detail["imagePushedAt"])
                        for tag in detail.get("imageTags", [])
                    )
        except self._client.exceptions.RepositoryNotFoundException:
            return []
        return found
