"""Deploy policies: which pushed tags of a repository deploy to a service.

Semantics are decided in DESIGN §2:
- `tag:NAME` exactly NAME; `prefix:P` tags starting with P; `off` never.
- `semver:RANGE` npm range semantics (node-semver, including its prerelease rule); a leading `v` is
  accepted; the pushed version must satisfy the range and be strictly greater than the running version
  when that is known and is a version.
- In the configuration document also `glob:PATTERN` (whole tag) and `regex:PATTERN` (whole tag).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


class PolicyError(ValueError):
    """A policy value that does not parse; the message says why."""


@dataclass(frozen=True)
class Decision:
    deploy: bool
    reason: str


class Policy(Protocol):
    @property
    def text(self) -> str: ...

    @property
    def orders_tags(self) -> bool: ...

    def decide(self, tag: str, running_tag: str | None) -> Decision: ...


@dataclass(frozen=True)
class OffPolicy:
    text: str = "off"
    orders_tags: bool = False

    def decide(self, tag: str, running_tag: str | None) -> Decision:
        return Decision(False, "deploys are off for this service")


@dataclass(frozen=True)
class ExactTagPolicy:
    name: str
    orders_tags: bool = False

    @property
    def text(self) -> str:
        return f"tag:{self.name}"

    def decide(self, tag: str, running_tag: str | None) -> Decision:
        if tag == self.name:
            return Decision(True, f"tag {tag!r} is the tracked tag")
        return Decision(False, f"tag {tag!r} is not {self.name!r}")


@dataclass(frozen=True)
class PrefixPolicy:
    prefix: str
    orders_tags: bool = False

    @property
    def text(self) -> str:
        return f"prefix:{self.prefix}"

    def decide(self, tag: str, running_tag: str | None) -> Decision:
        if tag.startswith(self.prefix):
            return Decision(True, f"tag {tag!r} starts with {self.prefix!r}")
        return Decision(False, f"tag {tag!r} does not start with {self.prefix!r}")


@dataclass(frozen=True)
class GlobPolicy:
    pattern: str
    orders_tags: bool = False

    @property
    def text(self) -> str:
        return f"glob:{self.pattern}"

    def decide(self, tag: str, running_tag: str | None) -> Decision:
        if fnmatch.fnmatchcase(tag, self.pattern):
            return Decision(True, f"tag {tag!r} matches {self.pattern!r}")
        return Decision(False, f"tag {tag!r} does not match {self.pattern!r}")


@dataclass(frozen=True)
class RegexPolicy:
    pattern: re.Pattern[str]
    orders_tags: bool = False

    @property
    def text(self) -> str:
        return f"regex:{self.pattern.pattern}"

    def decide(self, tag: str, running_tag: str | None) -> Decision:
        if self.pattern.fullmatch(tag):
            return Decision(True, f"tag {tag!r} matches /{self.pattern.pattern}/")
        return Decision(False, f"tag {tag!r} does not match /{self.pattern.pattern}/")


def _semver() -> Any:
    """node-semver, loaded with the first semantic version a policy reads (not every function's import)."""
    import nodesemver

    return nodesemver


def version_of(tag: str | None) -> str | None:
    """The normalised semantic version a tag names (`v1.2.3` → `1.2.3`), or None."""
    if not tag:
        return None
    parsed = _semver().valid(tag, False)
    return None if parsed is None else str(parsed.version)


@dataclass(frozen=True)
class SemverPolicy:
    range_text: str
    orders_tags: bool = True

    @property
    def text(self) -> str:
        return f"semver:{self.range_text}"

    def decide(self, tag: str, running_tag: str | None) -> Decision:
        version = version_of(tag)
        if version is None:
            return Decision(False, f"tag {tag!r} is not a semantic version")
        if not _semver().satisfies(version, self.range_text, False):
            return Decision(False, f"version {version} does not satisfy {self.range_text!r}")
        running = version_of(running_tag)
        if running is not None and not _semver().gt(version, running, False):
            return Decision(False, f"version {version} is not newer than the running {running}")
        if running is None:
            return Decision(True, f"version {version} satisfies {self.range_text!r}")
        return Decision(True, f"version {version} satisfies {self.range_text!r} and is newer than {running}")


def parse_semver_range(range_text: str) -> SemverPolicy:
    text = range_text.strip()
    if not text:
        raise PolicyError("semver: needs a value after it, e.g. semver:1.x")
    if "," in text:
        raise PolicyError(f"semver range {text!r} contains a comma; npm ranges separate with spaces or ||")
    try:
        _semver().make_range(text, False)
    except ValueError as error:
        raise PolicyError(f"semver range {text!r} is not a valid npm range ({error})") from error
    return SemverPolicy(text)


def _regex(pattern: str) -> RegexPolicy:
    try:
        return RegexPolicy(re.compile(pattern))
    except re.error as error:
        raise PolicyError(f"regex {pattern!r} does not compile: {error}") from error


# kind → (constructor, example shown when the argument is missing, allowed in a tag)
_KINDS: dict[str, tuple[Callable[[str], Policy], str, bool]] = {
    "tag": (ExactTagPolicy, "tag:latest", True),
    "prefix": (PrefixPolicy, "prefix:release-", True),
    "semver": (parse_semver_range, "semver:1.x", True),
    "glob": (GlobPolicy, "glob:release-*", False),
    "regex": (_regex, "regex:^main-[0-9a-f]{7}$", False),
}


def parse_policy(value: str, *, full_syntax: bool) -> Policy:
    """Parse one policy value.

    `full_syntax` is True for policies in the configuration document (glob and regex allowed) and False
    for the `autopilot:deploy` tag (where only what fits ECS's tag characters is possible anyway).
    """
    text = value.strip()
    if text == "off":
        return OffPolicy()
    kind, sep, arg = text.partition(":")
    known = {name: spec for name, spec in _KINDS.items() if full_syntax or spec[2]}
    allowed = ", ".join(f"{name}:" for name in known) + (" or off" if full_syntax else ", policy: or off")
    if not sep:
        raise PolicyError(f"{text!r} is not a policy; expected {allowed}")
    if kind not in known:
        raise PolicyError(f"unknown policy kind {kind!r}; expected {allowed}")
    build, example, _ = known[kind]
    if not arg.strip():
        raise PolicyError(f"{kind}: needs a value after it, e.g. {example}")
    return build(arg)
