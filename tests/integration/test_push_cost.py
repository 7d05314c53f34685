"""The API calls one push costs do not grow with the services that do not use the pushed repository."""

from __future__ import annotations

import pytest

from tests.bench.push_cost import measure


@pytest.mark.parametrize("matching", [1, 10])
def test_push_cost_is_flat_in_the_number_of_services(matching: int) -> None:
    small, _, small_calls = measure(10, matching)
    large, naive, large_calls = measure(1000, matching)
    assert large == small
    assert large_calls == small_calls
    assert large <= 6 + 5 * matching
    assert naive > 10 * large  # the scan it replaces


def test_one_push_to_one_service_costs_exactly_these_calls() -> None:
    _, _, calls = measure(10, 1)
    assert calls == {
        "dynamodb.PutItem": 2,  # idempotency record (in progress); the push taken (for the reconciler)
        "dynamodb.UpdateItem": 1,  # idempotency record (completed)
        "dynamodb.Query": 1,  # repository -> services index
        # state of every matched service (frozen, quarantine, deployed tag); after UpdateService, once more for
        # every updated service: no newer decision replaced ours meanwhile
        "dynamodb.BatchGetItem": 2,
        "ecs.DescribeServices": 1,
        "ecs.DescribeTaskDefinition": 1,
        "ecs.RegisterTaskDefinition": 1,
        "ecs.UpdateService": 1,
        "dynamodb.TransactWriteItems": 1,  # the decision: deployment row + deployed image, conditional
    }
