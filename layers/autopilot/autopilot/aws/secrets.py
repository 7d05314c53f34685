"""Route secrets from Secrets Manager, through Powertools parameters (cached; values are never logged)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

CACHE_SECONDS = 300


class SecretUnavailableError(LookupError):
    """The secret does not exist or cannot be read; the message names the secret, not its value."""


class RouteSecrets:
    def __init__(self, client: SecretsManagerClient) -> None:
        self._provider = SecretsProvider(boto3_client=client)

    def get(self, secret_id: str) -> dict[str, str]:
        """A JSON object secret as a dict; a plain string secret as {"value": …}."""
        try:
            raw = self._provider.get(secret_id, max_age=CACHE_SECONDS)
        except GetParameterError as error:
            kind = "ResourceNotFoundException" if "ResourceNotFound" in str(error) else "unreadable"
            raise SecretUnavailableError(f"secret {secret_id} is {kind}") from None
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            return {"value": text}
        if isinstance(value, dict):
            return {str(key): str(item) for key, item in value.items()}
        return {"value": text}
