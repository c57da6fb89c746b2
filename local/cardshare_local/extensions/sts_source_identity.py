"""STS SourceIdentity as AWS keeps it: recorded per assumed-role session, returned, and inherited.

moto 5.2.5's ``TokenResponse.assume_role`` ignores the ``SourceIdentity`` parameter: the
``AssumedRole`` it stores has no such attribute and the response omits it. In AWS the value set on
AssumeRole travels with every request made with that session's credentials (SageMaker records it
in ``UserContext.IamIdentity.SourceIdentity``), is echoed in the AssumeRole response, and persists
across role chaining: it cannot be changed once set (IAM User Guide, "Monitor and control actions
taken with assumed roles").

This patch wraps the HTTP handler (so it works under ``mock_aws`` and ``ThreadedMotoServer``) and
stores the value on moto's own ``AssumedRole`` as ``cardshare_source_identity``, so a backend reset
forgets it with the session. ``source_identity()`` reads it back for other extensions.
AssumeRoleWithSAML and AssumeRoleWithWebIdentity take theirs from the assertion or token in AWS;
they are left as moto has them (no source identity).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from moto.core.responses import ActionResult
from moto.sts.exceptions import STSValidationError
from moto.sts.models import sts_backends
from moto.sts.responses import TokenResponse

_ATTRIBUTE = "cardshare_source_identity"
# AWS: 2-64 characters of [\w+=,.@-]; the "aws:" prefix is reserved.
_VALID = re.compile(r"^[\w+=,.@-]{2,64}$")
_ORIGINAL: dict[str, Callable[..., ActionResult]] = {}


def install() -> None:
    """Make AssumeRole record SourceIdentity (idempotent)."""
    if _ORIGINAL:
        return
    _ORIGINAL["assume_role"] = TokenResponse.assume_role
    TokenResponse.assume_role = _assume_role  # type: ignore[method-assign]


def uninstall() -> None:
    """Give moto back its own AssumeRole."""
    original = _ORIGINAL.pop("assume_role", None)
    if original is not None:
        TokenResponse.assume_role = original  # type: ignore[method-assign]


def source_identity(account: str, partition: str, access_key_id: str) -> str | None:
    """The SourceIdentity of the role session that owns ``access_key_id``, or None if it has none.

    ``account`` is the account the key acts as (moto files an assumed role under the role's account).
    """
    role = sts_backends[account][partition].get_assumed_role_from_access_key(access_key_id)
    value = getattr(role, _ATTRIBUTE, None)
    return value if isinstance(value, str) else None


def _validate(value: str) -> None:
    if not _VALID.match(value) or value.lower().startswith("aws:"):
        raise STSValidationError(
            f"1 validation error detected: Value '{value}' at 'sourceIdentity' failed to satisfy constraint: "
            r"Member must have length between 2 and 64, satisfy regular expression pattern [\w+=,.@-]*, "
            "and not begin with 'aws:'"
        )


def _assume_role(self: TokenResponse) -> ActionResult:
    requested: str | None = self._get_param("SourceIdentity")
    # Role chaining: a session that already carries a source identity passes it on, unchangeable.
    inherited = source_identity(self.current_account, self.partition, self.get_access_key())
    if requested is not None:
        _validate(requested)
        if inherited is not None and requested != inherited:
            raise STSValidationError(
                f"SourceIdentity '{requested}' differs from '{inherited}', which the calling session "
                "already carries and which cannot be changed."
            )
    value = requested if requested is not None else inherited
    result = _ORIGINAL["assume_role"](self)
    body = result.result
    if value is not None and isinstance(body, dict):
        setattr(body["Credentials"], _ATTRIBUTE, value)
        body["SourceIdentity"] = value
    return result
