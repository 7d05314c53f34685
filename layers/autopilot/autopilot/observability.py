"""Logger and Metrics, created once for every function (service name from POWERTOOLS_SERVICE_NAME).

Tracing is Lambda's active tracing (each invocation's segment, nothing to import); OpenTelemetry through
the ADOT layer is an opt-in stack parameter (docs/tracing.md). No X-Ray SDK: in maintenance since
2026-02-25, and ≈0.5 s of every cold start.

Libraries that log request and response bodies at DEBUG (botocore, slack_sdk, httpx) are held at WARNING
whatever the root level, so a DEBUG run cannot put a secret or a webhook URL in the logs.
"""

import logging

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

QUIET_LIBRARIES = ("botocore", "boto3", "urllib3", "s3transfer", "slack_sdk", "httpx", "httpcore")
for _name in QUIET_LIBRARIES:
    logging.getLogger(_name).setLevel(logging.WARNING)

logger = Logger()
metrics = Metrics()


def count(prefix: str, outcome: str, value: int = 1) -> None:
    """One count of an outcome as a metric `<Prefix><Outcome>` (ROLLED_BACK → RollbacksRolledBack, out-of-memory
    → TaskStopsOutOfMemory); the stack's dashboard graphs them."""
    words = outcome.replace("-", "_").split("_")
    metrics.add_metric(name=prefix + "".join(word.title() for word in words), unit=MetricUnit.Count, value=value)
