"""Where a route may send: each channel type talks https to its own service's hosts only; a generic webhook goes
to https public hosts only (no IP literal, no localhost, nothing that resolves to a private, loopback or
link-local address). Tokens and routing keys so never leave for another host.

`local` (set only by `autopilot local up`, the demo and tests: AUTOPILOT_LOCAL_ENDPOINTS=true, never by the
template) additionally lets routes reach the local chat sink on the loopback address.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

SERVICE_HOSTS: dict[str, tuple[str, ...]] = {
    "slack_webhook": ("hooks.slack.com", "hooks.slack-gov.com"),
    "slack_bot": ("slack.com", ".slack.com", "slack-gov.com", ".slack-gov.com"),
    "teams": (".logic.azure.com", ".powerplatform.com", ".webhook.office.com", ".logic.azure.us"),
    "discord": ("discord.com", "discordapp.com"),
    "google_chat": ("chat.googleapis.com",),
    "pagerduty": ("events.pagerduty.com", "events.eu.pagerduty.com"),
}
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

Resolver = Callable[[str], list[str]]


class UrlPolicyError(ValueError):
    """The route's URL is not one this channel type may send to; the text names the route, never the URL."""


def _resolve(host: str) -> list[str]:
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, 443, proto=socket.IPPROTO_TCP)})


def _matches(host: str, allowed: tuple[str, ...]) -> bool:
    return any(host.endswith(entry) if entry.startswith(".") else host == entry for entry in allowed)


def check_url(route: str, channel: str, url: str, *, local: bool = False, resolve: Resolver = _resolve) -> str:
    """The URL, when `channel` may send to it; else UrlPolicyError saying why (a configuration error)."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        raise UrlPolicyError(f"route {route}: its URL does not parse") from None
    if local and host in LOOPBACK_HOSTS and parts.scheme in {"http", "https"}:
        return url
    if parts.scheme != "https" or not host:
        raise UrlPolicyError(f"route {route}: only https URLs are allowed (got {parts.scheme or 'no'} scheme)")
    if channel in SERVICE_HOSTS:
        if not _matches(host, SERVICE_HOSTS[channel]):
            raise UrlPolicyError(
                f"route {route}: a {channel} route may only send to {', '.join(SERVICE_HOSTS[channel])}"
            )
        return url
    _check_public(route, host, resolve)
    return url


def _check_public(route: str, host: str, resolve: Resolver) -> None:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        raise UrlPolicyError(f"route {route}: an IP address is not allowed as a webhook host, use a DNS name")
    if host in LOOPBACK_HOSTS or host.endswith(".localhost") or "." not in host:
        raise UrlPolicyError(f"route {route}: the webhook host must be a public DNS name")
    try:
        addresses = resolve(host)
    except OSError:
        raise UrlPolicyError(f"route {route}: the webhook host does not resolve") from None
    for address in addresses:
        if not ipaddress.ip_address(address.split("%")[0]).is_global:
            raise UrlPolicyError(f"route {route}: the webhook host resolves to a non-public address")
