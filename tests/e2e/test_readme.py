"""The README's shell blocks that are safe to run locally (marked `<!-- safe-to-run … -->`) run and succeed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Iterator

import pytest

from autopilot.local.emulator import free_port
from tests.conftest import ROOT

BLOCK = re.compile(
    r"<!-- safe-to-run(?P<emulator>: with the emulator on port 4566)? -->\n```sh\n(?P<body>.*?)```", re.DOTALL
)


def blocks() -> list[tuple[bool, str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [(bool(match["emulator"]), match["body"]) for match in BLOCK.finditer(text)]


def test_the_readme_marks_blocks_to_run() -> None:
    assert [needs_emulator for needs_emulator, _ in blocks()] == [False, True]


@pytest.fixture
def emulator_port() -> Iterator[int]:
    port = free_port()
    process = subprocess.Popen(
        [".venv/bin/autopilot", "local", "up", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert "listening" in process.stdout.readline()
    yield port
    process.send_signal(signal.SIGINT)
    process.wait(timeout=30)


def run(body: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", body],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_blocks_without_the_emulator_run() -> None:
    for needs_emulator, body in blocks():
        if not needs_emulator:
            result = run(body, dict(os.environ))
            assert result.returncode == 0, result.stderr
            assert "DeployFunction" in result.stdout and "TaskWatchFunction" in result.stdout


def test_blocks_with_the_emulator_run(emulator_port: int) -> None:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    for needs_emulator, body in blocks():
        if needs_emulator:
            result = run(body.replace("4566", str(emulator_port)), env)
            assert result.returncode == 0, result.stderr
            assert "no rule matches" not in result.stdout
            assert "no risky setting found" in result.stdout
