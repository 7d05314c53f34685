"""`autopilot local up --seed` as a new user starts it: a clean shell (no AWS variables, a dumb 80-column
terminal, a fresh HOME), the banner read up to its last line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from tests.conftest import ROOT


def clean_env(home: Path) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "HOME": str(home), "TERM": "dumb", "COLUMNS": "80"}


@dataclass
class LocalUp:
    """The running `local up`. Its stdout and stderr are read all the time, by a thread each, as a terminal
    would: a pipe nobody reads fills up (64 KiB) and blocks the process, which then cannot stop on Ctrl-C."""

    process: subprocess.Popen[str]
    banner: list[str]
    env: dict[str, str]
    lines: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _read: int = 0  # lines read_until has looked at

    def __post_init__(self) -> None:
        for stream, sink in ((self.process.stdout, self.lines), (self.process.stderr, self.errors)):
            threading.Thread(target=_drain, args=(stream, sink), daemon=True).start()

    def hint(self) -> str:
        return next(line.strip() for line in self.banner if line.strip().startswith("export "))

    def read_until(self, text: str, seconds: float = 30) -> list[str]:
        """Lines the running `local up` prints (the chat sink), until one printed since the last call contains
        `text`."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            while self._read < len(self.lines):
                self._read += 1
                if text in self.lines[self._read - 1]:
                    return self.lines[: self._read]
            time.sleep(0.1)
        raise AssertionError(f"{text!r} not printed within {seconds} s; printed: {self.lines}")


def _drain(stream: IO[str] | None, sink: list[str]) -> None:
    if stream is not None:
        for line in stream:
            sink.append(line)


def interruptible() -> None:
    """Popen's preexec_fn: Ctrl-C (SIGINT) stops the child as it stops a command a person started, also when the
    test run itself was started with SIGINT ignored (a background job of a non-interactive shell, which Python
    then never turns into KeyboardInterrupt)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


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
        preexec_fn=interruptible,  # noqa: PLW1509 - before any thread of the test starts a child
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
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:  # it must stop on Ctrl-C; it is killed, and the test fails, if not
            process.kill()
            process.wait(timeout=10)
            raise
