"""`autopilot local up --seed` as a new user starts it: a clean shell (no AWS variables, a dumb 80-column
terminal, a fresh HOME), the banner read up to its last line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import ROOT


def clean_env(home: Path) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "HOME": str(home), "TERM": "dumb", "COLUMNS": "80"}


@dataclass
class LocalUp:
    process: subprocess.Popen[str]
    banner: list[str]
    env: dict[str, str]
    lines: list[str] = field(default_factory=list)

    def hint(self) -> str:
        return next(line.strip() for line in self.banner if line.strip().startswith("export "))

    def read_until(self, text: str, seconds: float = 30) -> list[str]:
        """Lines the running `local up` prints (the chat sink), until one contains `text`."""
        assert self.process.stdout is not None
        os.set_blocking(self.process.stdout.fileno(), False)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if line:
                self.lines.append(line)
                if text in line:
                    return self.lines
            else:
                time.sleep(0.1)
        raise AssertionError(f"{text!r} not printed within {seconds} s; printed: {self.lines}")


@contextmanager
def local_up(home: Path) -> Iterator[LocalUp]:
    """The running emulator with the lines of its banner and the shell's environment; stopped with Ctrl-C."""
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
        yield LocalUp(process, banner, env)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
