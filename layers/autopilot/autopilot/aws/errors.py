"""Classifying AWS errors: what a retry may fix and what it never will."""

from __future__ import annotations

from botocore.exceptions import ClientError, ConnectionError, ReadTimeoutError

RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "ServerException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalServerError",
        "InternalFailure",
        "TransactionConflictException",
    }
)


def error_code(error: BaseException) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "Unknown"))
    return type(error).__name__


def is_retryable(error: BaseException) -> bool:
    """True for throttling and server-side errors that a later attempt (Lambda's retry) may get past."""
    if isinstance(error, (ConnectionError, ReadTimeoutError)):
        return True
    return isinstance(error, ClientError) and error_code(error) in RETRYABLE_CODES


def describe_error(error: BaseException) -> str:
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        return f"{info.get('Code', 'Unknown')}: {info.get('Message', '')}".strip()
    return f"{type(error).__name__}: {error}"
