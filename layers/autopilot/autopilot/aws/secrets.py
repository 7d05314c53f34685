"""Route secrets from Secrets Manager, through Powertools parameters (cached; values are never logged)."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, ClassVar

from autopilot.aws.errors import error_code, is_retryable
from autopilot.observability import logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider
    from mypy_boto3_secretsmanager import SecretsManagerClient

CACHE_SECONDS = 300


class Redactor(logging.Filter):
    """Replaces every secret value read so far with [REDACTED] in any record a handler emits."""

    values: ClassVar[set[str]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if any(value in text for value in self.values):
            for value in self.values:
                text = text.replace(value, "[REDACTED]")
            record.msg, record.args = text, None
        return True


_REDACTOR = Redactor()


def _guard(values: list[str]) -> None:
    """Remember secret values and make sure every handler in sight redacts them (defence in depth: nothing
    logs them on purpose)."""
    Redactor.values.update(value for value in values if len(value) >= 8)
    for handler in [*logging.getLogger().handlers, *logger.handlers]:
        if _REDACTOR not in handler.filters:
            handler.addFilter(_REDACTOR)


class SecretUnavailableError(LookupError):
    """The secret does not exist or cannot be read; the message names the secret, not its value. `transient`
    when a later attempt may read it (throttled, a server error): the message is retried, not dead-lettered."""

    def __init__(self, text: str, *, transient: bool = False) -> None:
        super().__init__(text)
        self.transient = transient


class RouteSecrets:
    def __init__(self, client: SecretsManagerClient) -> None:
        self._client = client
        self._provider: SecretsProvider | None = None

    def problem(self, secret_id: str) -> str | None:
        """Why the secret cannot be read, or None when it can (`autopilot doctor`)."""
        try:
            self.get(secret_id)
        except SecretUnavailableError as error:
            return str(error)
        return None

    def get(self, secret_id: str) -> dict[str, str]:
        """A JSON object secret as a dict; a plain string secret as {"value": …}."""
        # Powertools parameters (and with it boto3) loads with the first read, not at import (cold start)
        from aws_lambda_powertools.utilities.parameters import SecretsProvider
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

        if self._provider is None:
            self._provider = SecretsProvider(boto3_client=self._client)
        try:
            raw = self._provider.get(secret_id, max_age=CACHE_SECONDS)
        except GetParameterError as error:
            cause = error.__context__  # Powertools wraps the SDK's error without chaining it as the cause
            if cause is not None and is_retryable(cause):
                raise SecretUnavailableError(
                    f"secret {secret_id} could not be read now ({error_code(cause)})", transient=True
                ) from None
            kind = "ResourceNotFoundException" if "ResourceNotFound" in str(error) else "unreadable"
            raise SecretUnavailableError(f"secret {secret_id} is {kind}") from None
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = None
        values = {str(key): str(item) for key, item in value.items()} if isinstance(value, dict) else {"value": text}
        _guard([text, *values.values()])
        return values
