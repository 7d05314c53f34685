"""The README's shell blocks that are safe to run locally (marked `<!-- safe-to-run … -->`) run and succeed."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.e2e import sandbox

BLOCK = re.compile(r"<!-- safe-to-run(?P<emulator>: with local up running)? -->\n```sh\n(?P<body>.*?)```", re.DOTALL)


def blocks() -> list[tuple[bool, str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [(bool(match["emulator"]), match["body"]) for match in BLOCK.finditer(text)]


def test_the_readme_marks_blocks_to_run() -> None:
    assert [needs_emulator for needs_emulator, _ in blocks()] == [False, True]


@pytest.fixture
def local_up(tmp_path: Path) -> Iterator[sandbox.LocalUp]:
    with sandbox.local_up(tmp_path) as running:
        yield running


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


def test_blocks_with_local_up_run_in_a_clean_shell(local_up: sandbox.LocalUp) -> None:
    """Word for word, as a new user: `local up --seed` in one shell, the README's block in another; the
    first shell prints what the chat channel receives from the replays."""
    for needs_emulator, body in blocks():
        if needs_emulator:
            result = run(body, local_up.env)
            assert result.returncode == 0, result.stderr
            assert result.stderr == ""
            assert "DeployFunction" in result.stdout and "RollbackFunction" in result.stdout
            assert "no risky setting found" in result.stdout
            assert "route slack: delivered" in result.stdout
            local_up.read_until("[webhook]")  # a replayed rollback or Spot warning, delivered by local up
