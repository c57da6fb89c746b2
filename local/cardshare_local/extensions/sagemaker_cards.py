"""SageMaker model cards as AWS serves them: by name or ARN, across accounts, with authorship and events.

moto 5.2.5 keeps model cards as a list of ``FakeModelCard`` versions per name in each account's
SageMaker backend. This patch replaces the five model-card handlers of ``SageMakerResponse`` (the
HTTP layer, so it works under ``mock_aws`` and ``ThreadedMotoServer`` alike, and so it sees the
caller's access key) and the ``FakeModelCard.describe`` serializer. It keeps moto's storage: a
version is still a ``FakeModelCard``; this module adds three attributes to it (``cardshare_created_by``,
``cardshare_last_modified_by``, ``cardshare_authored_by``).

Those attributes hold the caller's UserContext as DescribeModelCard returns it: ``IamIdentity`` (Arn,
PrincipalId, and SourceIdentity when the role session was assumed with one: recorded by the
``sts_source_identity`` extension) and, for a SageMaker Studio user, ``DomainId``, ``UserProfileName``
and ``UserProfileArn``. A Studio app calls AWS with its domain's execution role; locally the request
names the user profile in the header ``x-cardshare-studio-user-profile: <DomainId>/<UserProfileName>``
(``cardshare_local.accounts.studio_session`` sends it).
"""

from __future__ import annotations

import importlib
import json
import logging
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from moto.core.errors import COMMON_ERROR_CODES
from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow
from moto.sagemaker.exceptions import ResourceNotFound, SagemakerClientError, ValidationError
from moto.sagemaker.models import FakeModelCard, SageMakerModelBackend, sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse
from moto.utilities.utils import get_partition

from cardshare_local.extensions.sts_source_identity import source_identity

LOG = logging.getLogger(__name__)

VALID_STATUSES = frozenset({"Draft", "PendingReview", "Approved", "Archived"})
DETAIL_TYPE = "SageMaker Model Card State Change"
# AWS leaves open whether a content-only edit emits "SageMaker Model Card State Change" (aws-facts.md:
# unconfirmed). Emitting is the stricter test of the consumer (it must ignore events whose status did
# not change); set this to False to model the other answer.
EMIT_ON_CONTENT_CHANGE = True

_ACTION_DESCRIBE = "sagemaker:DescribeModelCard"
_ACTION_UPDATE = "sagemaker:UpdateModelCard"
_ACTION_LIST_VERSIONS = "sagemaker:ListModelCardVersions"
_ACTION_DELETE = "sagemaker:DeleteModelCard"

_CARD_ARN = re.compile(r"^arn:aws[a-z-]*:sagemaker:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):model-card/(?P<name>.+)$")
_CARD_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
# The local stand-in for "this request comes from a Studio app of user profile <DomainId>/<UserProfileName>".
STUDIO_USER_PROFILE_HEADER = "x-cardshare-studio-user-profile"
# SageMaker's patterns for DomainId and UserProfileName.
_STUDIO_USER = re.compile(r"^(?P<domain>d-(-*[a-z0-9]){1,61})/(?P<profile>[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62})$")
_MAX_CONTENT = 100_000
#: ListModelCards' MaxResults range is 1-100 (the API model). The reference names no default; a caller
#: that wants full pages must ask for them, so locally an omitted MaxResults gives the smallest page
#: SageMaker's list operations commonly use.
LIST_CARDS_MAX_PAGE = 100
LIST_CARDS_DEFAULT_PAGE = 10

# moto is not thread-safe and Step Functions executions run in threads: read-modify-write of a card's
# versions happens under this lock (re-entrant: an event delivered synchronously may update a card).
_LOCK = threading.RLock()
_ORIGINALS: dict[str, Callable[..., Any]] = {}
# An assumed role that has no IAM role behind it gets a random principal id from moto on every call;
# pin the first one per access key so CreatedBy and LastModifiedBy of one caller compare equal.
_PRINCIPAL_IDS: dict[str, str] = {}


class AccessDeniedException(SagemakerClientError):
    """AWS's answer to a caller whose account holds no RAM-granted permission on the card."""

    code = "AccessDeniedException"


def install() -> None:
    """Replace moto's model-card handlers with AWS-like ones (idempotent)."""
    if _ORIGINALS:
        return
    handlers: dict[str, Callable[..., Any]] = {
        "create_model_card": _create_model_card,
        "update_model_card": _update_model_card,
        "describe_model_card": _describe_model_card,
        "list_model_card_versions": _list_model_card_versions,
        "list_model_cards": _list_model_cards,
        "delete_model_card": _delete_model_card,
    }
    for name, handler in handlers.items():
        _ORIGINALS[name] = getattr(SageMakerResponse, name)
        setattr(SageMakerResponse, name, handler)
    _ORIGINALS["FakeModelCard.describe"] = FakeModelCard.describe
    FakeModelCard.describe = _describe_version  # type: ignore[method-assign]
    # AccessDeniedException is one of the errors common to all AWS APIs (HTTP 400), though SageMaker's
    # model does not list it: without this moto warns on every denied call.
    if AccessDeniedException.code not in COMMON_ERROR_CODES:
        COMMON_ERROR_CODES.append(AccessDeniedException.code)


def uninstall() -> None:
    """Restore moto's own handlers (for tests that compare with stock behaviour)."""
    for name, original in list(_ORIGINALS.items()):
        if name == "FakeModelCard.describe":
            FakeModelCard.describe = original  # type: ignore[method-assign]
        else:
            setattr(SageMakerResponse, name, original)
    _ORIGINALS.clear()


def version_authors(account: str, region: str, card_name: str) -> dict[int, str]:
    """Who wrote each version of a card: ``{ModelCardVersion: IAM ARN}``.

    The author of a version is the caller of the CreateModelCard or content UpdateModelCard that made
    it; later status-only updates change LastModifiedBy but not the author. An unknown caller maps to "".
    """
    versions = sagemaker_backends[account][region].model_cards.get(card_name, [])
    return {
        v.model_card_version: getattr(v, "cardshare_authored_by", {}).get("IamIdentity", {}).get("Arn", "")
        for v in versions
    }


# --- resolution and authorization ---------------------------------------------------------------


def _resolve(response: SageMakerResponse, name_or_arn: str | None, action: str) -> tuple[SageMakerModelBackend, str]:
    """The backend that owns the card and the card's name; raise like AWS if the caller may not act."""
    if not name_or_arn:
        raise ValidationError("1 validation error detected: Value null at 'modelCardName' failed to satisfy constraint")
    match = _CARD_ARN.match(name_or_arn)
    if not match:
        # A plain name is always looked up in the caller's own account, as in AWS.
        return response.sagemaker_backend, name_or_arn
    owner, region, name = match["account"], match["region"], match["name"]
    if region != response.region:
        raise ValidationError(f"Model card ARN {name_or_arn} is not in region {response.region}.")
    caller = response.current_account
    if owner != caller:
        # Another account's card is reachable only through a RAM share that grants this action to
        # the caller's account (the managed permissions grant Describe, ListVersions and Update).
        try:
            ram = importlib.import_module("cardshare_local.extensions.ram")
        except ModuleNotFoundError:
            LOG.warning("cardshare_local.extensions.ram is missing: no model card is shared")
            allowed: frozenset[str] = frozenset()
        else:
            allowed = ram.shared_actions(owner, region, name_or_arn, caller)
        if action not in allowed:
            user = _caller_context(response)["IamIdentity"]["Arn"]
            raise AccessDeniedException(
                f"User: {user} is not authorized to perform: {action} on resource: {name_or_arn} "
                f"because no resource-based policy allows the {action} action"
            )
    return sagemaker_backends[owner][region], name


def _versions(backend: SageMakerModelBackend, name: str) -> list[FakeModelCard]:
    # ``model_cards`` is a defaultdict: never index it with an unknown name (that would create it).
    if name not in backend.model_cards:
        raise ResourceNotFound(f"Modelcard {name} does not exist.")
    return backend.model_cards[name]


def _caller_context(response: SageMakerResponse) -> dict[str, Any]:
    """The UserContext AWS records for the caller: its IAM identity, plus its Studio user profile if any."""
    return {**_studio_user(response), "IamIdentity": _iam_identity(response)}


def _iam_identity(response: SageMakerResponse) -> dict[str, str]:
    """``IamIdentity`` of the caller, found from the request's access key like STS does."""
    from moto.sts.models import sts_backends

    access_key = response.get_access_key()
    partition = get_partition(response.region)
    user_id, arn, _ = sts_backends[response.current_account][partition].get_caller_identity(access_key, response.region)
    identity = {"Arn": arn, "PrincipalId": _PRINCIPAL_IDS.setdefault(access_key, user_id)}
    # AWS sends SourceIdentity only when the role session was assumed with one.
    source = source_identity(response.current_account, partition, access_key)
    if source is not None:
        identity["SourceIdentity"] = source
    return identity


def _studio_user(response: SageMakerResponse) -> dict[str, str]:
    """DomainId, UserProfileArn and UserProfileName of a Studio caller; empty for any other caller."""
    header = response.headers.get(STUDIO_USER_PROFILE_HEADER)
    if not header:
        return {}
    match = _STUDIO_USER.match(header)
    if not match:
        # Only the local runtime sends this header: a malformed one is a bug in the caller, say so.
        raise ValidationError(
            f"{STUDIO_USER_PROFILE_HEADER} must be <DomainId>/<UserProfileName>, "
            f"matching {_STUDIO_USER.pattern}; got {header!r}"
        )
    domain, profile = match["domain"], match["profile"]
    partition = get_partition(response.region)
    return {
        "DomainId": domain,
        "UserProfileArn": f"arn:{partition}:sagemaker:{response.region}:{response.current_account}"
        f":user-profile/{domain}/{profile}",
        "UserProfileName": profile,
    }


# --- validation ----------------------------------------------------------------------------------


def _validate_status(status: str | None) -> None:
    if status is not None and status not in VALID_STATUSES:
        raise ValidationError(
            f"1 validation error detected: Value '{status}' at 'modelCardStatus' failed to satisfy "
            f"constraint: Member must satisfy enum value set: [{', '.join(sorted(VALID_STATUSES))}]"
        )


def _validate_content(content: str) -> None:
    if len(content) > _MAX_CONTENT:
        raise ValidationError(f"Model card content exceeds the maximum length of {_MAX_CONTENT} characters.")
    try:
        parsed = json.loads(content)
    except ValueError as error:
        raise ValidationError(f"Model card content is not valid JSON: {error}") from error
    if not isinstance(parsed, dict):
        raise ValidationError("Model card content must be a JSON object.")


# --- handlers (replace SageMakerResponse methods) -----------------------------------------------


def _create_model_card(self: SageMakerResponse) -> ActionResult:
    name = self._get_param("ModelCardName")
    content = self._get_param("Content") or "{}"
    status = self._get_param("ModelCardStatus")
    if not name or not _CARD_NAME.match(name):
        raise ValidationError(f"Model card name {name!r} does not match pattern {_CARD_NAME.pattern}.")
    # moto accepts any status string, and a missing one; AWS requires one of the four.
    if status is None:
        raise ValidationError(
            "1 validation error detected: Value null at 'modelCardStatus' failed to satisfy constraint"
        )
    _validate_status(status)
    _validate_content(content)
    caller = _caller_context(self)
    backend = self.sagemaker_backend
    with _LOCK:
        arn = backend.create_model_card(
            model_card_name=name,
            security_config=self._get_param("SecurityConfig"),
            content=content,
            model_card_status=status,
            tags=self._get_param("Tags"),
        )
        card = backend.model_cards[name][-1]
        card.cardshare_created_by = caller  # type: ignore[attr-defined]
        card.cardshare_last_modified_by = caller  # type: ignore[attr-defined]
        card.cardshare_authored_by = caller  # type: ignore[attr-defined]
    _emit_state_change(backend, name)
    return ActionResult({"ModelCardArn": arn})


def _update_model_card(self: SageMakerResponse) -> ActionResult:
    backend, name = _resolve(self, self._get_param("ModelCardName"), _ACTION_UPDATE)
    content = self._get_param("Content")
    status = self._get_param("ModelCardStatus")
    # AWS: "content and status cannot change in one call"; moto applied both.
    if content is not None and status is not None:
        raise ValidationError("Cannot update both model card content and model card status in the same request.")
    _validate_status(status)
    if content is not None:
        _validate_content(content)
    caller = _caller_context(self)
    with _LOCK:
        versions = _versions(backend, name)
        latest = versions[-1]
        now = utcnow()
        if status is not None:
            # A status change does not create a version (moto made one and dropped the content).
            latest.model_card_status = status
            latest.last_modified_time = now
            latest.cardshare_last_modified_by = caller  # type: ignore[attr-defined]
        elif content is not None:
            # Any other edit creates a version that keeps the status (moto dropped the status).
            card = FakeModelCard(
                account_id=backend.account_id,
                region_name=backend.region_name,
                model_card_name=name,
                model_card_version=latest.model_card_version + 1,
                content=content,
                model_card_status=latest.model_card_status,
                security_config=latest.security_config,
                tags=latest.tags,
                creation_time=versions[0].creation_time,
                last_modified_time=now,
            )
            card.cardshare_created_by = getattr(versions[0], "cardshare_created_by", {})  # type: ignore[attr-defined]
            card.cardshare_last_modified_by = caller  # type: ignore[attr-defined]
            card.cardshare_authored_by = caller  # type: ignore[attr-defined]
            versions.append(card)
        arn = latest.arn
    if status is not None or (content is not None and EMIT_ON_CONTENT_CHANGE):
        _emit_state_change(backend, name)
    return ActionResult({"ModelCardArn": arn})


def _describe_model_card(self: SageMakerResponse) -> ActionResult:
    backend, name = _resolve(self, self._get_param("ModelCardName"), _ACTION_DESCRIBE)
    wanted = self._get_param("ModelCardVersion")
    with _LOCK:
        versions = _versions(backend, name)
        if wanted is None:
            return ActionResult(versions[-1].describe())
        for version in versions:
            if version.model_card_version == int(wanted):
                return ActionResult(version.describe())
    raise ResourceNotFound(f"Modelcard with name {name} and version: {wanted} does not exist")


def _list_model_card_versions(self: SageMakerResponse) -> ActionResult:
    backend, name = _resolve(self, self._get_param("ModelCardName"), _ACTION_LIST_VERSIONS)
    after = _as_datetime(self._get_param("CreationTimeAfter"))
    before = _as_datetime(self._get_param("CreationTimeBefore"))
    status = self._get_param("ModelCardStatus")
    sort_by = self._get_param("SortBy") or "Version"
    # The API reference names no default order; moto's (ascending) is kept.
    descending = self._get_param("SortOrder") == "Descending"
    max_results = int(self._get_param("MaxResults") or 100)
    start = int(self._get_param("NextToken") or 0)
    with _LOCK:
        versions = list(_versions(backend, name))
    if after:
        versions = [v for v in versions if v.last_modified_time > after]
    if before:
        versions = [v for v in versions if v.last_modified_time < before]
    if status:
        versions = [v for v in versions if v.model_card_status == status]
    if sort_by == "CreationTime":
        versions.sort(key=lambda v: v.last_modified_time, reverse=descending)
    else:
        versions.sort(key=lambda v: v.model_card_version, reverse=descending)
    # moto's paginator keys on a "model_card_arn" attribute that versions lack, and every version of
    # a card shares one ARN anyway: paginate by offset.
    page = versions[start : start + max_results]
    result: dict[str, Any] = {"ModelCardVersionSummaryList": [v.version_summary() for v in page]}
    if start + max_results < len(versions):
        result["NextToken"] = str(start + max_results)
    return ActionResult(result)


def _list_model_cards(self: SageMakerResponse) -> ActionResult:
    """ListModelCards paged like AWS: MaxResults from 1 to 100, a NextToken while more cards remain.

    moto 5.2.5 accepts any MaxResults (10,000 cards come back in one page), which makes a lister
    look cheaper than it is on AWS.
    """
    raw = self._get_param("MaxResults")
    max_results = LIST_CARDS_DEFAULT_PAGE if raw is None else int(raw)
    if not 1 <= max_results <= LIST_CARDS_MAX_PAGE:
        raise ValidationError(
            f"1 validation error detected: Value '{max_results}' at 'maxResults' failed to satisfy constraint: "
            f"Member must have value less than or equal to {LIST_CARDS_MAX_PAGE}"
        )
    backend: SageMakerModelBackend = self.sagemaker_backend
    with _LOCK:
        cards, token = backend.list_model_cards(
            creation_time_after=self._get_param("CreationTimeAfter"),
            creation_time_before=self._get_param("CreationTimeBefore"),
            max_results=max_results,
            name_contains=self._get_param("NameContains"),
            model_card_status=self._get_param("ModelCardStatus"),
            next_token=self._get_param("NextToken"),
            sort_by=self._get_param("SortBy"),
            sort_order=self._get_param("SortOrder"),
        )
        summaries = [card.summary() for card in cards]
    result: dict[str, Any] = {"ModelCardSummaries": summaries}
    if token:
        result["NextToken"] = token
    return ActionResult(result)


def _delete_model_card(self: SageMakerResponse) -> EmptyResult:
    backend, name = _resolve(self, self._get_param("ModelCardName"), _ACTION_DELETE)
    with _LOCK:
        _versions(backend, name)
        backend.delete_model_card(model_card_name=name)
    # No event: the SageMaker guide lists "SageMaker Model Card State Change" for status changes and
    # says nothing about deletion, so the local runtime emits none.
    return EmptyResult()


def _describe_version(self: FakeModelCard) -> dict[str, Any]:
    """FakeModelCard.describe with the identities AWS records and the real LastModifiedTime."""
    return {
        "ModelCardArn": self.arn,
        "ModelCardName": self.model_card_name,
        "ModelCardVersion": self.model_card_version,
        "Content": self.content,
        "ModelCardStatus": self.model_card_status,
        "SecurityConfig": self.security_config or {},
        "CreationTime": self.creation_time,
        "CreatedBy": getattr(self, "cardshare_created_by", {}),
        # moto returned CreationTime here.
        "LastModifiedTime": self.last_modified_time,
        "LastModifiedBy": getattr(self, "cardshare_last_modified_by", {}),
    }


def _as_datetime(value: Any) -> datetime | None:
    """A request timestamp as the naive UTC datetime moto stores."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    return datetime.fromtimestamp(float(value), tz=UTC).replace(tzinfo=None)


# --- events --------------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _model_id(content: str) -> str:
    try:
        overview = json.loads(content).get("model_overview") or {}
    except (ValueError, AttributeError):
        return ""
    model_id = overview.get("model_id") if isinstance(overview, dict) else None
    return model_id if isinstance(model_id, str) else ""


def _emit_state_change(backend: SageMakerModelBackend, name: str) -> None:
    """Put "SageMaker Model Card State Change" on the owner account's default bus, shaped like AWS's."""
    from moto.events.models import events_backends

    with _LOCK:
        versions = backend.model_cards.get(name)
        if not versions:
            return
        card, first = versions[-1], versions[0]
        detail = {
            "ModelCardVersion": card.model_card_version,
            "LastModifiedTime": _iso(card.last_modified_time),
            "LastModifiedBy": getattr(card, "cardshare_last_modified_by", {}),
            "CreationTime": _iso(first.creation_time),
            "CreatedBy": getattr(first, "cardshare_created_by", {}),
            "ModelCardName": name,
            "ModelId": _model_id(card.content),
            "ModelCardStatus": card.model_card_status,
            "AccountId": backend.account_id,
            "SecurityConfig": card.security_config or {},
        }
        entry = {
            "Source": "aws.sagemaker",
            "DetailType": DETAIL_TYPE,
            "Detail": json.dumps(detail),
            "Resources": [card.arn],
            "EventBusName": "default",
        }
    try:
        # Delivery to targets happens inside put_events; EventBridge is decoupled from SageMaker in
        # AWS, so a failing target must never fail the model-card call that caused the event.
        events_backends[backend.account_id][backend.region_name].put_events([entry])
    except Exception:
        LOG.exception("could not deliver %s for %s", DETAIL_TYPE, card.arn)
