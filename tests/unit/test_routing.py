"""EventBridge pattern matching, as documented in the EventBridge User Guide's content filtering."""

from __future__ import annotations

import pytest

from autopilot.local.routing import PatternError, matches

EVENT = {
    "source": "aws.ecs",
    "detail-type": "AWS API Call via CloudTrail",
    "detail": {
        "eventName": "TagResource",
        "count": 5,
        "flag": True,
        "nothing": None,
        "tags": [{"key": "a"}, {"key": "b"}],
        "names": ["x", "y"],
        "arn": "arn:aws:ecs:us-west-2:1:service/prod/web",
    },
}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ({"source": ["aws.ecs"]}, True),
        ({"source": ["aws.ecr"]}, False),
        ({"source": ["aws.ecr", "aws.ecs"]}, True),
        ({"detail": {"eventName": ["TagResource"]}}, True),
        ({"detail": {"missing": ["x"]}}, False),
        ({"detail": {"errorCode": [{"exists": False}]}}, True),
        ({"detail": {"eventName": [{"exists": False}]}}, False),
        ({"detail": {"eventName": [{"exists": True}]}}, True),
        ({"detail": {"count": [5]}}, True),
        ({"detail": {"count": ["5"]}}, False),
        ({"detail": {"count": [{"numeric": [">", 1, "<=", 5]}]}}, True),
        ({"detail": {"count": [{"numeric": ["<", 5]}]}}, False),
        ({"detail": {"flag": [True]}}, True),
        ({"detail": {"flag": [1]}}, False),
        ({"detail": {"nothing": [None]}}, True),
        ({"detail": {"arn": [{"prefix": "arn:aws:ecs:"}]}}, True),
        ({"detail": {"arn": [{"suffix": "/web"}]}}, True),
        ({"detail": {"arn": [{"wildcard": "arn:aws:ecs:*:service/prod/*"}]}}, True),
        ({"detail": {"arn": [{"wildcard": "arn:aws:ecs:*:service/dev/*"}]}}, False),
        ({"detail": {"eventName": [{"equals-ignore-case": "tagresource"}]}}, True),
        ({"detail": {"eventName": [{"anything-but": ["UntagResource"]}]}}, True),
        ({"detail": {"eventName": [{"anything-but": "TagResource"}]}}, False),
        ({"detail": {"eventName": [{"anything-but": {"prefix": "Tag"}}]}}, False),
        ({"detail": {"missing": [{"anything-but": "x"}]}}, False),
        ({"detail": {"names": ["y"]}}, True),
        ({"detail": {"tags": {"key": ["b"]}}}, True),
        ({"detail": {"tags": {"key": ["c"]}}}, False),
        ({"$or": [{"source": ["aws.ecr"]}, {"detail": {"count": [5]}}]}, True),
        ({"$or": [{"source": ["aws.ecr"]}, {"detail": {"count": [6]}}]}, False),
    ],
)
def test_pattern_matching(pattern: dict, expected: bool) -> None:
    assert matches(pattern, EVENT) is expected


def test_unknown_filters_are_reported_not_guessed() -> None:
    with pytest.raises(PatternError, match="cidr"):
        matches({"detail": {"arn": [{"cidr": "10.0.0.0/24"}]}}, EVENT)
