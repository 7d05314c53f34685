"""The configuration document in SSM Parameter Store, read through Powertools parameters (cached)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from autopilot.config.document import ConfigDocument, ConfigUnavailableError
from autopilot.observability import logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SSMProvider
    from mypy_boto3_ssm import SSMClient


class ConfigStore:
    def __init__(self, client: SSMClient, parameter_name: str, max_age_seconds: int = 60) -> None:
        self._provider: SSMProvider | None = None
        self._client = client
        self.parameter_name = parameter_name
        self._max_age = max_age_seconds

    def load(self) -> ConfigDocument:
        """The document; an absent parameter is an empty document (nothing configured yet)."""
        # Powertools parameters (and with it boto3) loads with the first read, not at import (cold start)
        from aws_lambda_powertools.utilities.parameters import SSMProvider
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

        if self._provider is None:
            self._provider = SSMProvider(boto3_client=self._client)
        try:
            text = self._provider.get(self.parameter_name, max_age=self._max_age, decrypt=True)
        except GetParameterError as error:
            if "ParameterNotFound" in str(error):
                logger.warning(
                    "configuration document not found; using defaults",
                    extra={"parameter": self.parameter_name},
                )
                return ConfigDocument()
            raise ConfigUnavailableError(
                f"cannot read configuration document {self.parameter_name} now: {error}"
            ) from error
        return ConfigDocument.from_json(str(text), source=self.parameter_name)

    def save(self, document: ConfigDocument) -> None:
        self._client.put_parameter(
            Name=self.parameter_name, Value=document.model_dump_json(), Type="String", Overwrite=True
        )
