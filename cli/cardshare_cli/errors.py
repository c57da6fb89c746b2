"""Failures an operator can act on, each said in one line."""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)

_LIMIT = 300


class OperatorError(Exception):
    """Bad input or an unusable environment: the message is the whole story, no traceback."""


def one_line(error: BaseException) -> str:
    """``error`` as one line an operator can act on."""
    if isinstance(error, OperatorError):
        text = str(error)
    elif isinstance(error, NoCredentialsError | PartialCredentialsError):
        text = "no AWS credentials: set AWS_PROFILE or pass --profile (or run `aws configure` / `aws sso login`)"
    elif isinstance(error, NoRegionError):
        text = "no AWS region: pass --region or set AWS_REGION (or AWS_DEFAULT_REGION)"
    elif isinstance(error, ProfileNotFound):
        text = f"{error} (see `aws configure list-profiles`)"
    elif isinstance(error, EndpointConnectionError):
        text = f"cannot reach AWS: {error}"
    elif isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "Error")
        message = error.response.get("Error", {}).get("Message", "")
        text = f"{error.operation_name}: {code}: {message}"
    elif isinstance(error, BotoCoreError):
        text = str(error)
    else:
        text = f"{type(error).__name__}: {error}"
    flat = " ".join(text.split())
    return flat if len(flat) <= _LIMIT else flat[: _LIMIT - 1] + "…"
