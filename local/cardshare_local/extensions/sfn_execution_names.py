"""StartExecution without a name, as AWS answers it: the execution gets a UUID for its name.

The ``name`` parameter is optional: "If you don't provide a name for the execution, Step Functions
automatically generates a universally unique identifier (UUID) as the execution name" (Step
Functions API reference, StartExecution). moto 5.2.5 passes ``None`` through, so the execution's ARN
ends in ``:None``, a second unnamed start collides with the first, and a ``DescribeExecution``
answer has no name (the server's execution report failed on it). This patch starts an unnamed
execution itself, under a UUID, and leaves named ones to moto.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from moto.core.responses import ActionResult
from moto.stepfunctions.responses import StepFunctionResponse

_ORIGINAL: dict[str, Callable[[StepFunctionResponse], ActionResult]] = {}


def install() -> None:
    """Give unnamed executions a UUID name (idempotent)."""
    if _ORIGINAL:
        return
    _ORIGINAL["start_execution"] = StepFunctionResponse.start_execution
    StepFunctionResponse.start_execution = _start_execution  # type: ignore[method-assign]


def _start_execution(self: StepFunctionResponse) -> ActionResult:
    if self._get_param("name"):
        return _ORIGINAL["start_execution"](self)
    execution = self.stepfunction_backend.start_execution(
        self._get_param("stateMachineArn"), str(uuid.uuid4()), self._get_param("input", if_none="{}")
    )
    return ActionResult({"executionArn": execution.execution_arn, "startDate": execution.start_date})
