"""A reconcile run's cost does not grow with the services that use a repository (only with repositories and
their image pages)."""

from __future__ import annotations

from tests.bench.reconcile import measure


def test_reconcile_cost_is_flat_in_the_number_of_services_per_repository() -> None:
    small, large = measure(20, repositories=2), measure(60, repositories=2)
    # the services index (one page), the repositories looked at before, then per repository one DescribeImages
    # and one check of its recent pushes
    assert small["api_calls"] == large["api_calls"] == 2 + 2 * 2
    assert small["missed_pushes"] == large["missed_pushes"] == 0
