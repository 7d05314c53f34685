"""Names for the things we talk about: one object per idea, used in ledger keys, logs, messages and the CLI."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class ServiceRef:
    """An ECS service, by cluster name and service name (unique within one account and region)."""

    cluster: str
    name: str

    def __str__(self) -> str:
        return f"{self.cluster}/{self.name}"

    @property
    def key(self) -> str:
        return str(self)

    @classmethod
    def parse(cls, text: str) -> ServiceRef:
        """`CLUSTER/SERVICE` as operators type it."""
        cluster, sep, name = text.partition("/")
        if not sep or not cluster or not name or "/" in name:
            raise ValueError(f"expected CLUSTER/SERVICE, got {text!r}")
        return cls(cluster, name)

    @classmethod
    def from_arn(cls, arn: str, cluster: str | None = None) -> ServiceRef:
        """A service ARN in the new format (`service/CLUSTER/NAME`) or the old one (`service/NAME`).

        The old format carries no cluster name; pass it in `cluster` (a name or a cluster ARN).
        """
        resource = arn.split(":", 5)[-1]
        kind, _, path = resource.partition("/")
        if kind != "service" or not path:
            raise ValueError(f"not an ECS service ARN: {arn!r}")
        parts = path.split("/")
        if len(parts) == 2:
            return cls(parts[0], parts[1])
        if len(parts) == 1 and cluster:
            return cls(cluster_name(cluster), parts[0])
        raise ValueError(f"cannot tell the cluster of service ARN {arn!r}")


def cluster_name(cluster: str) -> str:
    """A cluster name from a cluster name or ARN (`arn:aws:ecs:REGION:ACCOUNT:cluster/NAME`)."""
    if cluster.startswith("arn:"):
        return cluster.rsplit("/", 1)[-1]
    return cluster


def ecr_registry_host(account: str, region: str) -> str:
    """The private ECR registry host of an account and region (China regions use amazonaws.com.cn)."""
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"{account}.dkr.ecr.{region}.{suffix}"


@dataclass(frozen=True, order=True)
class RepositoryRef:
    """An image repository: registry host plus repository name. The key of the repository → services index."""

    registry: str
    name: str

    def __str__(self) -> str:
        return f"{self.registry}/{self.name}"

    @property
    def key(self) -> str:
        return str(self)
