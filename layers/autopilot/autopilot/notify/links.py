"""AWS console deep links for services, deployments, tasks and log streams, region-aware."""

from __future__ import annotations

from urllib.parse import quote

from autopilot.messages import Link
from autopilot.refs import ServiceRef


def console_host(region: str) -> str:
    if region.startswith("cn-"):
        return "console.amazonaws.cn"
    if region.startswith("us-gov-"):
        return "console.amazonaws-us-gov.com"
    return f"{region}.console.aws.amazon.com"


def service_link(ref: ServiceRef, region: str) -> Link:
    host = console_host(region)
    return Link(
        label="Service",
        url=f"https://{host}/ecs/v2/clusters/{quote(ref.cluster)}/services/{quote(ref.name)}/health?region={region}",
    )


def deployments_link(ref: ServiceRef, region: str) -> Link:
    host = console_host(region)
    return Link(
        label="Deployments",
        url=f"https://{host}/ecs/v2/clusters/{quote(ref.cluster)}/services/"
        f"{quote(ref.name)}/deployments?region={region}",
    )


def task_link(cluster: str, task_id: str, region: str) -> Link:
    host = console_host(region)
    return Link(
        label="Task",
        url=f"https://{host}/ecs/v2/clusters/{quote(cluster)}/tasks/{quote(task_id)}/configuration?region={region}",
    )


def _console_escape(text: str) -> str:
    """The CloudWatch console's own escaping of path parts inside its fragment ($252F for /, …)."""
    return quote(quote(text, safe=""), safe="").replace("%", "$")


def log_stream_link(group: str, stream: str, region: str) -> Link:
    host = console_host(region)
    return Link(
        label="Logs",
        url=f"https://{host}/cloudwatch/home?region={region}#logsV2:log-groups/log-group/"
        f"{_console_escape(group)}/log-events/{_console_escape(stream)}",
    )


def service_links(ref: ServiceRef, region: str | None) -> list[Link]:
    if not region:
        return []
    return [service_link(ref, region), deployments_link(ref, region)]
