"""Deploy policies (DESIGN §2): pure decisions, no AWS."""

from __future__ import annotations

import pytest

from autopilot.config.policies import (
    ExactTagPolicy,
    GlobPolicy,
    OffPolicy,
    PolicyError,
    PrefixPolicy,
    RegexPolicy,
    SemverPolicy,
    parse_policy,
    version_of,
)


def deploys(policy_text: str, tag: str, running: str | None = None, *, full: bool = False) -> bool:
    return parse_policy(policy_text, full_syntax=full).decide(tag, running).deploy


def test_tag_policy_deploys_exactly_the_named_tag() -> None:
    assert deploys("tag:latest", "latest")
    assert not deploys("tag:latest", "latest-rc")
    assert not deploys("tag:latest", "Latest")


def test_prefix_policy_deploys_tags_that_start_with_it() -> None:
    assert deploys("prefix:release-", "release-2026.11")
    assert not deploys("prefix:release-", "pre-release-1")


def test_off_never_deploys() -> None:
    policy = parse_policy("off", full_syntax=False)
    assert isinstance(policy, OffPolicy)
    assert not policy.decide("latest", None).deploy


@pytest.mark.parametrize(
    ("range_text", "tag", "expected"),
    [
        ("1.x", "1.0.0", True),
        ("1.x", "1.99.3", True),
        ("1.x", "2.0.0", False),
        ("1.x", "0.9.9", False),
        ("1.4.x", "1.4.7", True),
        ("1.4.x", "1.5.0", False),
        ("1.4 - 1", "1.4.0", True),  # hyphen range: ^1.4
        ("1.4 - 1", "1.9.9", True),
        ("1.4 - 1", "1.3.9", False),
        ("1.4 - 1", "2.0.0", False),
        ("1.2.3", "1.2.3", True),  # exact version
        ("1.2.3", "1.2.4", False),
    ],
)
def test_semver_ranges_that_fit_in_a_tag(range_text: str, tag: str, expected: bool) -> None:
    assert deploys(f"semver:{range_text}", tag) is expected


def test_a_leading_v_is_the_same_version() -> None:
    assert version_of("v1.2.3") == version_of("1.2.3") == "1.2.3"
    assert deploys("semver:1.x", "v1.2.3")
    assert not deploys("semver:1.x", "v1.2.3", running="1.2.3")


def test_prereleases_follow_npm_rule_only_with_a_prerelease_comparator_on_the_same_tuple() -> None:
    assert not deploys("semver:1.x", "1.5.0-rc.1")
    assert deploys("semver:^1.4.1-rc.0", "1.4.1-rc.2", full=True)
    assert not deploys("semver:^1.4.1-rc.0", "1.5.0-rc.1", full=True)  # other [major, minor, patch]
    assert deploys("semver:^1.4.1-rc.0", "1.5.0", full=True)


def test_semver_never_deploys_a_version_lower_than_or_equal_to_the_running_one() -> None:
    assert not deploys("semver:1.x", "1.2.0", running="1.3.0")
    assert not deploys("semver:1.x", "1.3.0", running="1.3.0")
    assert deploys("semver:1.x", "1.3.1", running="1.3.0")
    assert deploys("semver:1.x", "1.3.1", running="v1.3.0")


def test_semver_with_unknown_or_non_version_running_tag_lets_the_range_decide() -> None:
    assert deploys("semver:1.x", "1.0.1", running=None)
    assert deploys("semver:1.x", "1.0.1", running="latest")


def test_a_tag_that_is_not_a_version_never_deploys_under_semver() -> None:
    decision = parse_policy("semver:1.x", full_syntax=False).decide("latest", None)
    assert not decision.deploy
    assert "not a semantic version" in decision.reason


def test_semver_policies_order_tags_and_others_do_not() -> None:
    assert parse_policy("semver:1.x", full_syntax=False).orders_tags
    assert not parse_policy("tag:latest", full_syntax=False).orders_tags


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("semver:", "needs a value"),
        ("semver:   ", "needs a value"),
        ("semver:1.2, 1.3", "contains a comma"),
        ("semver:banana", "not a valid npm range"),
        ("semver:1.2.3 -", "not a valid npm range"),
        ("tag:", "needs a value"),
        ("prefix:", "needs a value"),
        ("latest", "is not a policy"),
        ("sha:abc", "unknown policy kind 'sha'"),
        ("glob:release-*", "unknown policy kind 'glob'"),  # only in the configuration document
        ("regex:^main$", "unknown policy kind 'regex'"),
    ],
)
def test_values_that_do_not_parse_in_a_tag_say_why(text: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_policy(text, full_syntax=False)


def test_full_npm_ranges_in_the_configuration_document() -> None:
    assert isinstance(parse_policy("semver:^1.4", full_syntax=True), SemverPolicy)
    assert deploys("semver:>=1.2 <2", "1.9.0", full=True)
    assert not deploys("semver:>=1.2 <2", "2.0.0", full=True)
    assert deploys("semver:^1.4 || ^2.1", "2.3.0", full=True)


def test_glob_matches_the_whole_tag() -> None:
    policy = parse_policy("glob:release-*", full_syntax=True)
    assert isinstance(policy, GlobPolicy)
    assert policy.decide("release-7", None).deploy
    assert not policy.decide("pre-release-7", None).deploy
    assert deploys("glob:v1.?.[0-4]", "v1.2.3", full=True)
    assert not deploys("glob:v1.?.[0-4]", "v1.2.5", full=True)


def test_regex_matches_the_whole_tag() -> None:
    policy = parse_policy("regex:^main-[0-9a-f]{7}$", full_syntax=True)
    assert isinstance(policy, RegexPolicy)
    assert policy.decide("main-1a2b3c4", None).deploy
    assert not deploys("regex:main-[0-9a-f]{7}", "main-1a2b3c4-dirty", full=True)  # whole tag, anchors or not


def test_a_regex_that_does_not_compile_is_an_error() -> None:
    with pytest.raises(PolicyError, match="does not compile"):
        parse_policy("regex:main-(", full_syntax=True)


def test_parsed_policies_print_as_written() -> None:
    for text in ("tag:latest", "prefix:rel-", "semver:1.x", "glob:a*", "regex:^a$"):
        assert parse_policy(text, full_syntax=True).text == text
    assert isinstance(parse_policy(" tag:latest ", full_syntax=False), ExactTagPolicy)
    assert isinstance(parse_policy("prefix:x", full_syntax=False), PrefixPolicy)
