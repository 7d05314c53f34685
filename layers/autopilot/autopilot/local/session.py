"""The running `autopilot local up`, as the CLI in another shell finds it: `local up` writes its endpoint and
the functions' environment to a file, `autopilot --local …` (or any command pointed at that endpoint) reads
it, so nobody pastes a line of variables."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def path() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "ecs-autopilot" / "local.json"


def save(
    endpoint_url: str,
    region: str,
    environment: dict[str, str],
    *,
    control_url: str | None = None,
    chatops_url: str | None = None,
) -> Path:
    target = path()
    target.parent.mkdir(parents=True, exist_ok=True)
    variables = {
        **environment,
        **CREDENTIALS,
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
    }
    saved = {
        "endpoint_url": endpoint_url,
        "pid": os.getpid(),
        "environment": variables,
        "control_url": control_url,
        "chatops_url": chatops_url,
    }
    target.write_text(json.dumps(saved))
    return target


def load() -> dict[str, Any] | None:
    try:
        found: dict[str, Any] = json.loads(path().read_text())
    except (OSError, ValueError):
        return None
    return found if isinstance(found.get("environment"), dict) else None


def clear(endpoint_url: str) -> None:
    found = load()
    if found is not None and found.get("endpoint_url") == endpoint_url:
        path().unlink(missing_ok=True)


def apply(found: dict[str, Any], *, endpoint_url: str | None = None) -> None:
    """The session's environment, under what this shell already set (but the endpoint, which is the session's)."""
    for key, value in found["environment"].items():
        os.environ.setdefault(key, str(value))
    os.environ["AWS_ENDPOINT_URL"] = endpoint_url or str(found["endpoint_url"])
