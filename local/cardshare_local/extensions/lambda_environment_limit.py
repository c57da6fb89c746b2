"""Lambda's 4 KB limit on a function's environment variables, as AWS enforces it.

"The total size of the set of environment variables doesn't exceed 4 KB" (Lambda quotas); a
CreateFunction or UpdateFunctionConfiguration over it fails with InvalidParameterValueException,
naming the limit. moto 5.2.5 accepts any size, so a template whose ladder variables grow past the
limit (many stages or share slots) would deploy locally and fail in AWS. Lambda measures the
variables as compact JSON; so does this patch.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from moto.awslambda.exceptions import InvalidParameterValueException
from moto.awslambda.models import LambdaBackend

LIMIT_BYTES = 4096
_ORIGINAL: dict[str, Callable[..., Any]] = {}


def install() -> None:
    """Refuse environments over 4 KB on create and on update (idempotent)."""
    if _ORIGINAL:
        return
    _ORIGINAL["create_function"] = LambdaBackend.create_function
    _ORIGINAL["update_function_configuration"] = LambdaBackend.update_function_configuration
    LambdaBackend.create_function = _create_function  # type: ignore[method-assign]
    LambdaBackend.update_function_configuration = _update_function_configuration  # type: ignore[method-assign]


def environment_size(variables: Mapping[str, str]) -> int:
    """The size Lambda counts: the variables as compact JSON, in bytes."""
    return len(json.dumps(dict(variables), separators=(",", ":")).encode())


def _check(spec: Mapping[str, Any]) -> None:
    variables = (spec.get("Environment") or {}).get("Variables") or {}
    size = environment_size(variables)
    if size > LIMIT_BYTES:
        raise InvalidParameterValueException(
            "Lambda was unable to configure your environment variables because the environment variables "
            f"you have provided exceeded the 4KB limit. String measured: {size} bytes"
        )


def _create_function(self: LambdaBackend, spec: dict[str, Any]) -> Any:
    _check(spec)
    return _ORIGINAL["create_function"](self, spec)


def _update_function_configuration(
    self: LambdaBackend, function_name: str, qualifier: str, body: dict[str, Any]
) -> Any:
    _check(body)
    return _ORIGINAL["update_function_configuration"](self, function_name, qualifier, body)
