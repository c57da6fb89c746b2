"""Step Functions aws-sdk tasks as AWS runs them: error names, and PascalCase parameters and results.

1. Error names. AWS names the error of a failed ``arn:aws:states:::aws-sdk:<service>:<action>`` task
   ``<ServicePrefix>.<ErrorCode>``, where the prefix is the service's client name in the AWS SDK for
   Java v2 (``Ram``, ``SageMaker``, ``DynamoDb``...) and "Exception" is appended to a code that lacks
   it: RAM's ThrottlingException is ``Ram.ThrottlingException``, SageMaker's ResourceNotFound is
   ``SageMaker.ResourceNotFoundException`` (Step Functions guide, "AWS SDK service integrations").
   moto 5.2.5 uses the lower-case service name (``ram.UnknownResourceException``) and, for a code
   outside the botocore model, the class name ``ClientError`` (``ram.ramException``), so a Retry or
   Catch written for AWS never matches. It also crashes (States.Runtime, ``KeyError('RequestId')``)
   on an error response without a request id.
2. Casing. "Parameters in Step Functions are expressed in PascalCase, even if the native service API
   is in camelCase" (same guide), and results come back in the SDK's PascalCase member names. moto's
   interpreter passes parameters to botocore as written, so ``"ResourceShareArn"`` for RAM (whose API
   says ``resourceShareArn``) fails with States.Runtime ``KeyError``; and it returns botocore's
   camelCase results. The interpreter derived from LocalStack carries the two converters
   (``_to_boto_request`` / ``_from_boto_response``) but never calls them for aws-sdk tasks: this patch
   does. A camelCase parameter keeps working locally (AWS would reject it). Timestamps in results
   become ISO 8601 text (moto left datetimes, and DescribeExecution then failed to serialize them).

Lambda tasks need no patch: for ``arn:aws:states:::lambda:invoke`` and a bare function ARN, moto
already names the error after the payload's ``errorType`` and uses the payload as the cause, like AWS
(checked by the smoke test).
"""

from __future__ import annotations

import datetime
import functools
from typing import Any

import botocore.session
from botocore.exceptions import ClientError
from botocore.model import OperationModel
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
    StateTaskServiceAwsSdk,
)
from moto.stepfunctions.parser.asl.eval.environment import Environment

# aws-sdk service name (as written in the resource ARN, lower-cased) -> SDK for Java v2 client prefix.
SERVICE_PREFIXES: dict[str, str] = {
    "ram": "Ram",
    "sagemaker": "SageMaker",
    "dynamodb": "DynamoDb",
    "sns": "Sns",
    "sqs": "Sqs",
    "sfn": "Sfn",
    "lambda": "Lambda",
    "s3": "S3",
    "sts": "Sts",
    "iam": "Iam",
    "kms": "Kms",
    "ec2": "Ec2",
    "eventbridge": "EventBridge",
    "cloudwatchlogs": "CloudWatchLogs",
    "cloudwatch": "CloudWatch",
    "organizations": "Organizations",
    "secretsmanager": "SecretsManager",
    "ssm": "Ssm",
}

_PATCHED = ("_from_error", "_normalise_parameters", "_normalise_response")
_ORIGINALS: dict[str, Any] = {}


def install() -> None:
    """Name aws-sdk task errors like AWS and accept/return PascalCase (idempotent)."""
    if _ORIGINALS:
        return
    for name in _PATCHED:
        # Only what the class itself defines; an inherited method is restored by deleting ours.
        _ORIGINALS[name] = StateTaskServiceAwsSdk.__dict__.get(name)
    # Patching moto's class is the point (method-assign); the two normalisers take the aws-sdk task as
    # self while moto declares them on its base class StateTaskService (assignment).
    StateTaskServiceAwsSdk._from_error = _from_error  # type: ignore[method-assign]
    StateTaskServiceAwsSdk._normalise_parameters = _normalise_parameters  # type: ignore[method-assign,assignment]
    StateTaskServiceAwsSdk._normalise_response = _normalise_response  # type: ignore[method-assign,assignment]


def uninstall() -> None:
    """Give moto back its own behaviour."""
    for name, original in list(_ORIGINALS.items()):
        if original is None:
            delattr(StateTaskServiceAwsSdk, name)
        else:
            setattr(StateTaskServiceAwsSdk, name, original)
    _ORIGINALS.clear()


def service_prefix(service_name: str) -> str:
    """The error-name prefix of an aws-sdk service: ``ram`` -> ``Ram``, ``sagemaker`` -> ``SageMaker``."""
    known = SERVICE_PREFIXES.get(service_name.lower())
    if known:
        return known
    # Most Java v2 client names are the service name with a capital first letter (Athena, Glue).
    return service_name[:1].upper() + service_name[1:]


def error_name(prefix: str, error: Exception) -> str:
    """``<prefix>.<ErrorCode>``, with "Exception" appended when the code lacks it."""
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code") or "Unknown")
    else:
        code = type(error).__name__
    if not code.endswith("Exception"):
        code += "Exception"
    return f"{prefix}.{code}"


# --- the patched methods of StateTaskServiceAwsSdk -----------------------------------------------


def _from_error(self: StateTaskServiceAwsSdk, env: Environment, ex: Exception) -> FailureEvent:
    if not isinstance(ex, ClientError):
        return super(StateTaskServiceAwsSdk, self)._from_error(env=env, ex=ex)
    prefix = service_prefix(self.resource.api_name)
    metadata = ex.response.get("ResponseMetadata", {})
    details = [f"Service: {prefix}", f"Status Code: {metadata.get('HTTPStatusCode', 400)}"]
    details.append(f"Request ID: {metadata.get('RequestId') or 'null'}")
    if metadata.get("HostId"):
        details.append(f"Extended Request ID: {metadata['HostId']}")
    message = ex.response.get("Error", {}).get("Message") or str(ex)
    return self._get_task_failure_event(
        env=env, error=error_name(prefix, ex), cause=f"{message} ({', '.join(details)})"
    )


def _normalise_parameters(
    self: StateTaskServiceAwsSdk,
    parameters: dict[str, Any],
    boto_service_name: str | None = None,
    service_action_name: str | None = None,
) -> None:
    operation = _operation(
        self._get_boto_service_name(boto_service_name), self._get_boto_service_action(service_action_name)
    )
    if operation is not None and operation.input_shape is not None:
        self._to_boto_request(parameters, operation.input_shape)


def _normalise_response(
    self: StateTaskServiceAwsSdk,
    response: Any,
    boto_service_name: str | None = None,
    service_action_name: str | None = None,
) -> None:
    operation = _operation(
        self._get_boto_service_name(boto_service_name), self._get_boto_service_action(service_action_name)
    )
    if operation is not None and operation.output_shape is not None:
        self._from_boto_response(response, operation.output_shape)
    # botocore parses timestamps into datetimes, which moto's DescribeExecution cannot serialize
    # (TypeError in the API call); Step Functions hands on timestamps as text.
    _timestamps_to_text(response)


def _timestamps_to_text(value: Any) -> Any:
    """Replace datetimes, in place, by their ISO 8601 text; return the (possibly new) value."""
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        for key, item in value.items():
            value[key] = _timestamps_to_text(item)
    elif isinstance(value, list):
        value[:] = [_timestamps_to_text(item) for item in value]
    return value


@functools.cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@functools.cache
def _operation(service: str, snake_action: str) -> OperationModel | None:
    """The botocore model of ``service``'s operation named ``snake_action`` in snake case."""
    try:
        model = _session().get_service_model(service)
    except Exception:
        return None  # an unknown service fails later, in the call, with moto's own error
    # moto's camel_to_snake and botocore's xform_name disagree on acronyms: compare without case.
    wanted = snake_action.replace("_", "").lower()
    for name in model.operation_names:
        if name.lower() == wanted:
            return model.operation_model(name)
    return None
