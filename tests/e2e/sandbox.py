"""`autopilot local up --seed` as a new user starts it: a clean shell (no AWS variables, a dumb 80-column
terminal, a fresh HOME), the banner read up to its last line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import ROOT


def clean_env(home: Path) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "HOME": str(home), "TERM": "dumb", "COLUMNS": "80"}


@contextmanager
def local_up(home: Path) -> Iterator[tuple[subprocess.Popen[str], list[str], dict[str, str]]]:
    """The running emulator, the lines of its banner, and the shell's environment; stopped with Ctrl-C."""
    env = clean_env(home)
    process = subprocess.Popen(
        [sys.executable, "-m", "autopilot.cli.main", "local", "up", "--seed"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    banner = []
    for _ in range(60):
        line = process.stdout.readline()
        banner.append(line)
        if "Ctrl-C" in line or not line:
            break
    try:
        yield process, banner, env
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
