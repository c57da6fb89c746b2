"""The caller with keys moto does not know, named as AWS names an IAM user.

moto 5.2.5 answers GetCallerIdentity for credentials it never issued (the ``testing`` keys every
local session uses) with ``arn:aws:sts::<account>:user/moto``. AWS has no such ARN: an IAM user is
``arn:aws:iam::<account>:user/<name>`` (IAM User Guide, "IAM identifiers"), and code that parses
identities (cardshare's approver-account rule) found no account in the STS form. This patch keeps
moto's user name and fixes the service in the ARN, for STS and for every extension that asks STS
who is calling (SageMaker's UserContext).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from moto.sts.models import STSBackend

_STS_USER = re.compile(r"^arn:(?P<partition>aws[a-z-]*):sts::(?P<account>\d{12}):user/")
_ORIGINAL: dict[str, Callable[[STSBackend, str, str], tuple[str, str, str]]] = {}


def install() -> None:
    """Name the default caller as an IAM user (idempotent)."""
    if _ORIGINAL:
        return
    _ORIGINAL["get_caller_identity"] = STSBackend.get_caller_identity
    STSBackend.get_caller_identity = _get_caller_identity  # type: ignore[method-assign]


def _get_caller_identity(self: STSBackend, access_key_id: str, region: str) -> tuple[str, str, str]:
    user_id, arn, account = _ORIGINAL["get_caller_identity"](self, access_key_id, region)
    return user_id, _STS_USER.sub(r"arn:\g<partition>:iam::\g<account>:user/", arn), account
