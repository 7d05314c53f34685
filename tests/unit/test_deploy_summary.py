"""The idempotency record keeps a bounded summary of a push, however many services it reached."""

from __future__ import annotations

import json

from autopilot.deploy import SUMMARY_SERVICES, DeployReport, Outcome, ServiceResult


def report_of(services: int) -> DeployReport:
    return DeployReport(
        event_id="e",
        repository="123456789012.dkr.ecr.us-east-1.amazonaws.com/shop",
        tag="1.2.3",
        digest="sha256:" + "a" * 64,
        results=[
            ServiceResult(
                service=f"prod/service-{number:04d}",
                outcome=Outcome.DEPLOYED if number % 3 else Outcome.ERROR,
                reason="ThrottlingException: " + "r" * 5000,
                previous_task_definition=f"arn:aws:ecs:us-east-1:123456789012:task-definition/f{number}:1",
                new_task_definition=f"arn:aws:ecs:us-east-1:123456789012:task-definition/f{number}:2",
            )
            for number in range(services)
        ],
    )


def test_a_push_to_a_thousand_services_summarizes_in_well_under_a_dynamodb_item() -> None:
    summary = report_of(1000).summary()
    assert len(json.dumps(summary).encode()) < 100_000  # DynamoDB's item limit is 400 KB
    assert summary["counts"] == {"ERROR": 334, "DEPLOYED": 666}
    assert len(summary["results"]) == SUMMARY_SERVICES
    assert summary["more_results"] == 1000 - SUMMARY_SERVICES
    assert all(len(result["reason"]) <= 500 for result in summary["results"])


def test_a_small_push_keeps_every_service() -> None:
    summary = report_of(3).summary()
    assert [result["service"] for result in summary["results"]] == [f"prod/service-{n:04d}" for n in range(3)]
    assert summary["more_results"] == 0
