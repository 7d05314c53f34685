"""Where the CLI's AWS calls go, checked before the first call: the region (`--region`, AWS_REGION or
AWS_DEFAULT_REGION, as the Lambda runtime reads it), the endpoint (a URL that answers: a local one that does
not is most likely an emulator that is not running), and quiet handlers (their logs go to stderr, and only
with -v; no metric blobs, no library warnings on stdout)."""

from __future__ import annotations

import logging
import os
import socket
import sys
import warnings
from urllib.parse import urlparse

import click

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}  # noqa: S104 - names, not a bind address


class TargetError(click.ClickException):
    """Printed as one line, exit status 1 (see autopilot.cli.main.CliError)."""

    def show(self, file: object = None) -> None:
        click.echo(f"autopilot: error: {self.message}", err=True)


def region(option: str | None) -> str:
    """The region the handlers and boto3 use; both variables are set so every library agrees."""
    found = option or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not found:
        raise TargetError("no AWS region: pass --region or set AWS_REGION")
    os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = found
    return found


def endpoint(url: str) -> str:
    """A usable endpoint URL, or a one-line error saying what is wrong with it."""
    parsed = urlparse(url if "://" in url else "")
    if parsed.scheme not in {"http", "https"} or not parsed.hostname:
        raise TargetError(f"endpoint {url!r} is not a URL: write it as http://HOST:PORT (as `local up` prints it)")
    try:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
    except ValueError as error:
        raise TargetError(f"endpoint {url!r}: {error}") from None
    try:
        with socket.create_connection((parsed.hostname, port), timeout=2):
            pass
    except OSError as error:
        hint = ": is `autopilot local up` running?" if parsed.hostname in LOCAL_HOSTS else ""
        raise TargetError(f"cannot reach {url} ({error.strerror or error}){hint}") from None
    return url


def quiet_handlers(verbose: bool) -> None:
    """Handlers log JSON through Powertools on stdout; at a terminal stdout carries results only."""
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "EcsAutopilot")
    os.environ["POWERTOOLS_LOG_LEVEL"] = "INFO" if verbose else "CRITICAL"
    if not verbose:
        warnings.filterwarnings("ignore")
    from autopilot.observability import logger

    logger.setLevel(logging.INFO if verbose else logging.CRITICAL)
    handler = logger.registered_handler
    if isinstance(handler, logging.StreamHandler):
        handler.setStream(sys.stderr)
