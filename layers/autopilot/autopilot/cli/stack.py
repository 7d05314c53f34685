"""The deployed stack, as the CLI finds it: its outputs name the ledger table, the queues and the
configuration parameter, so a user who ran `sam deploy` needs no environment variables."""

from __future__ import annotations

import os

DEFAULT_STACK = "ecs-autopilot"
# stack output → the variable the handlers read
OUTPUTS = {
    "LedgerTableName": "LEDGER_TABLE_NAME",
    "NotificationQueueUrl": "NOTIFY_QUEUE_URL",
    "NotificationDeadLetterQueueUrl": "NOTIFY_DLQ_URL",
    "DrainWaitQueueUrl": "DRAIN_WAIT_QUEUE_URL",
    "ConfigurationParameterName": "CONFIG_PARAMETER_NAME",
}


class StackNotFoundError(LookupError):
    pass


def stack_settings(name: str) -> dict[str, str]:
    """The handlers' variables from the stack's outputs (those the stack has)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        stacks = boto3.client("cloudformation").describe_stacks(StackName=name)["Stacks"]
    except ClientError as error:
        raise StackNotFoundError(f"stack {name} not found: {error.response['Error'].get('Message', '')}") from None
    except BotoCoreError as error:
        raise StackNotFoundError(f"stack {name} could not be read: {error}") from None
    outputs = {item["OutputKey"]: item["OutputValue"] for item in stacks[0].get("Outputs", [])}
    return {variable: outputs[key] for key, variable in OUTPUTS.items() if key in outputs}


def apply(settings: dict[str, str]) -> None:
    """Under what the shell already set (an explicit variable or option wins)."""
    for key, value in settings.items():
        os.environ.setdefault(key, value)
