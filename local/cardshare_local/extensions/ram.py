"""AWS RAM as cardshare relies on it, on top of moto 5.2.5's RAM backend.

Stock moto 5.2.5 implements 8 of RAM's 36 operations, cannot share SageMaker model cards, drops a
share's permissions and reports every association as ASSOCIATED at once. This module restores, as
small named patches (see ``install``):

- model cards as shareable resources, with their AWS managed permissions;
- permissions and ``allowExternalPrincipals`` kept per share;
- principals checked against a declared organization (``configure_organization``): members get
  access at once, other accounts get an invitation they must accept;
- asynchronous association statuses (ASSOCIATING → ASSOCIATED | FAILED, DISASSOCIATING →
  DISASSOCIATED), settled deterministically by reads (``SETTLE_AFTER_READS``);
- the operations cardshare calls: Associate/DisassociateResourceShare, GetResourceShareAssociations
  (paginated), invitations, ListResources, customer managed permissions;
- RAM's quota of resource associations per share (``resources_per_share``: 5,000 as documented,
  or ``CARDSHARE_LOCAL_RAM_RESOURCES_PER_SHARE``, or ``RESOURCES_PER_SHARE`` set by a test):
  an AssociateResourceShare that would exceed it fails with ResourceShareLimitExceededException;
- fault injection for tests (``inject_error``, ``fail_next_association``);
- ``shared_actions``: what a RAM share lets another account do with a resource, for the SageMaker
  extension's authorization.

Registration: moto looks the RAM URL map (``moto.ram.urls.url_paths``) up on every request under
``mock_aws`` but only once per server when ``ThreadedMotoServer`` builds its Flask app for RAM, so
``install()`` must run before the first RAM request reaches a server.
"""

from __future__ import annotations

import base64
import binascii
import copy
import itertools
import json
import os
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

import botocore.session
from botocore.model import ServiceModel
from moto.core.common_types import TYPE_RESPONSE
from moto.core.exceptions import JsonRESTError
from moto.core.responses import BaseResponse
from moto.core.utils import camelcase_to_underscores, unix_time, utcnow
from moto.ram import urls as ram_urls
from moto.ram import utils as ram_utils
from moto.ram.models import ResourceAccessManagerBackend, ResourceShare, ram_backends
from moto.ram.responses import ResourceAccessManagerResponse

# ---- public constants -----------------------------------------------------------------------------

MODEL_CARD_RESOURCE_TYPE = "sagemaker:ModelCard"
MODEL_CARD_PERMISSION_ARN = "arn:aws:ram::aws:permission/AWSRAMPermissionSageMakerModelCards"
MODEL_CARD_EXPORT_PERMISSION_ARN = "arn:aws:ram::aws:permission/AWSRAMPermissionSageMakerModelCardsAllowExport"

_MODEL_CARD_ACTIONS = frozenset(
    {"sagemaker:DescribeModelCard", "sagemaker:ListModelCardVersions", "sagemaker:UpdateModelCard"}
)
#: Actions each AWS managed permission grants (SageMaker guide, "Cross-account model card sharing").
MANAGED_PERMISSION_ACTIONS: Mapping[str, frozenset[str]] = {
    MODEL_CARD_PERMISSION_ARN: _MODEL_CARD_ACTIONS,
    MODEL_CARD_EXPORT_PERMISSION_ARN: _MODEL_CARD_ACTIONS
    | {"sagemaker:CreateModelCardExportJob", "sagemaker:DescribeModelCardExportJob"},
}

#: How many GetResourceShareAssociations reads must return a transitional association (ASSOCIATING,
#: DISASSOCIATING) before it reaches its final status. 0 settles at once.
SETTLE_AFTER_READS = 1

#: RAM's documented quota of resource associations per resource share (RAM docs, 2023).
DEFAULT_RESOURCES_PER_SHARE = 5000
#: Environment variable that lowers (or raises) the quota locally, e.g. for a server started by a test.
RESOURCES_PER_SHARE_VARIABLE = "CARDSHARE_LOCAL_RAM_RESOURCES_PER_SHARE"
#: Set by a test to override both (None: the environment variable, else the default).
RESOURCES_PER_SHARE: int | None = None

#: The largest page RAM's list operations return (maxResults: 1-500 in the API model).
MAX_PAGE = 500

# Association statuses (RAM API reference, ResourceShareAssociation.status).
ASSOCIATING = "ASSOCIATING"
ASSOCIATED = "ASSOCIATED"
FAILED = "FAILED"
DISASSOCIATING = "DISASSOCIATING"
DISASSOCIATED = "DISASSOCIATED"
_STATUSES = (ASSOCIATING, ASSOCIATED, FAILED, DISASSOCIATING, DISASSOCIATED)

# ---- module state ---------------------------------------------------------------------------------

# One lock for everything the extension keeps: moto's server answers requests on several threads,
# and the SageMaker extension calls shared_actions from its own request threads.
_LOCK = threading.RLock()
_INSTALLED = False
_SEQUENCE = itertools.count(1)


@dataclass(frozen=True)
class _Organization:
    management_account: str
    org_id: str
    members: frozenset[str]
    units: Mapping[str, frozenset[str]]

    @property
    def arn(self) -> str:
        return f"arn:aws:organizations::{self.management_account}:organization/{self.org_id}"


@dataclass
class _Fault:
    code: str
    message: str
    status: int
    remaining: int


_ORGANIZATIONS: dict[str, _Organization] = {}
_FAULTS: dict[str, list[_Fault]] = {}
_FAILURES: list[str] = []
_HOOKS: dict[str, list[Callable[[], None]]] = {}


# ---- errors ---------------------------------------------------------------------------------------


class RamError(JsonRESTError):
    """A RAM error answered as AWS does: JSON body with ``__type``, the model's HTTP status."""

    def __init__(self, error_type: str, message: str, status: int | None = None) -> None:
        super().__init__(error_type, message)
        self.code = status if status is not None else _error_status(error_type)


@cache
def _ram_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("ram")


def _error_status(error_type: str) -> int:
    """The HTTP status RAM's API model declares for ``error_type`` (400 when it declares none)."""
    try:
        shape = _ram_model().shape_for(error_type)
    except Exception:
        return 400
    return int(shape.metadata.get("error", {}).get("httpStatusCode", 400))


def _unknown_share(arn: str | None) -> RamError:
    return RamError("UnknownResourceException", f"ResourceShare {arn} could not be found.")


# ---- per-backend and per-share state (lives in moto's objects, so moto's reset clears it) ---------


@dataclass
class _Association:
    share_arn: str
    kind: str  # RESOURCE | PRINCIPAL
    entity: str
    status: str
    external: bool = False
    status_message: str | None = None
    # The status a read-settled transition ends in; None while it waits for something else (an
    # invitation) or when it is final.
    target: str | None = None
    target_message: str | None = None
    reads: int = 0
    seq: int = field(default_factory=lambda: next(_SEQUENCE))
    created: datetime = field(default_factory=utcnow)
    updated: datetime = field(default_factory=utcnow)

    def move(self, status: str, target: str | None = None, message: str | None = None) -> None:
        self.status, self.target, self.target_message = status, target, message
        self.status_message = None
        self.reads = 0
        self.updated = utcnow()
        if target is not None and SETTLE_AFTER_READS <= 0:
            self.settle()

    def settle(self) -> None:
        if self.target is not None:
            self.status, self.status_message = self.target, self.target_message
            self.target = self.target_message = None
            self.reads = 0
            self.updated = utcnow()

    def settle_if_due(self) -> None:
        if self.target is not None and self.reads >= SETTLE_AFTER_READS:
            self.settle()

    def observed(self) -> None:
        if self.target is not None:
            self.reads += 1

    def describe(self, share: ResourceShare) -> dict[str, Any]:
        row: dict[str, Any] = {
            "resourceShareArn": share.arn,
            "resourceShareName": share.name,
            "associatedEntity": self.entity,
            "associationType": self.kind,
            "status": self.status,
            "creationTime": unix_time(self.created),
            "lastUpdatedTime": unix_time(self.updated),
            "external": self.external,
        }
        if self.status_message:
            row["statusMessage"] = self.status_message
        return row


@dataclass
class _ShareState:
    permission_arns: list[str] = field(default_factory=list)
    resources: dict[str, _Association] = field(default_factory=dict)
    principals: dict[str, _Association] = field(default_factory=dict)


@dataclass
class _Invitation:
    arn: str
    share_arn: str
    share_name: str
    sender: str
    receiver: str
    principal: str
    status: str = "PENDING"
    seq: int = field(default_factory=lambda: next(_SEQUENCE))
    created: datetime = field(default_factory=utcnow)

    def describe(self) -> dict[str, Any]:
        return {
            "resourceShareInvitationArn": self.arn,
            "resourceShareName": self.share_name,
            "resourceShareArn": self.share_arn,
            "senderAccountId": self.sender,
            "receiverAccountId": self.receiver,
            "invitationTimestamp": unix_time(self.created),
            "status": self.status,
        }


@dataclass
class _CustomerPermission:
    arn: str
    name: str
    resource_type: str
    template: dict[str, Any]
    actions: frozenset[str]
    seq: int = field(default_factory=lambda: next(_SEQUENCE))
    created: datetime = field(default_factory=utcnow)

    def summary(self) -> dict[str, Any]:
        return {
            "arn": self.arn,
            "version": "1",
            "defaultVersion": True,
            "name": self.name,
            "resourceType": self.resource_type,
            "status": "ATTACHABLE",
            "creationTime": unix_time(self.created),
            "lastUpdatedTime": unix_time(self.created),
            "isResourceTypeDefault": False,
            "permissionType": "CUSTOMER_MANAGED",
            "featureSet": "STANDARD",
        }


@dataclass
class _BackendState:
    invitations: dict[str, _Invitation] = field(default_factory=dict)
    permissions: dict[str, _CustomerPermission] = field(default_factory=dict)
    client_tokens: dict[tuple[str, str], tuple[str, dict[str, Any]]] = field(default_factory=dict)


def _share_state(share: ResourceShare) -> _ShareState:
    state: _ShareState = share.__dict__.setdefault("_cardshare_ram", _ShareState())
    return state


def _backend_state(backend: ResourceAccessManagerBackend) -> _BackendState:
    state: _BackendState = backend.__dict__.setdefault("_cardshare_ram", _BackendState())
    return state


def _backends_in(region: str) -> Iterator[ResourceAccessManagerBackend]:
    """Every RAM backend that exists in ``region`` (without creating any)."""
    for per_region in list(ram_backends.values()):
        backend = dict.get(per_region, region)
        if backend is not None:
            yield backend


def _existing_backend(account: str, region: str) -> ResourceAccessManagerBackend | None:
    per_region = dict.get(ram_backends, account)
    return None if per_region is None else dict.get(per_region, region)


def _own_share(backend: ResourceAccessManagerBackend, arn: str | None) -> ResourceShare:
    for share in backend.resource_shares:
        if share.arn == arn:
            return share
    raise _unknown_share(arn)


def _sync_stock_lists(share: ResourceShare) -> None:
    # Stock moto code reads share.principals / share.resource_arns; keep them equal to what is
    # currently (being) associated.
    state = _share_state(share)
    share.resource_arns = [e for e, a in state.resources.items() if a.status != DISASSOCIATED]
    share.principals = [e for e, a in state.principals.items() if a.status != DISASSOCIATED]


# ---- organization ---------------------------------------------------------------------------------

_ACCOUNT_RE = re.compile(r"^\d{12}$")
_ORG_RE = re.compile(r"^arn:aws:organizations::(\d{12}):organization/(o-[a-z0-9]+)$")
_OU_RE = re.compile(r"^arn:aws:organizations::(\d{12}):ou/(o-[a-z0-9]+)/(ou-[a-z0-9-]+)$")
_IAM_RE = re.compile(r"^arn:aws(?:-cn|-us-gov)?:iam::(\d{12}):(?:root|role/.+|user/.+)$")
_SERVICE_RE = re.compile(r"^[a-z0-9-]+\.amazonaws\.com$")


def configure_organization(
    owner_account: str,
    org_id: str,
    members: Iterable[str],
    organizational_units: Mapping[str, Iterable[str]] | None = None,
) -> None:
    """Declare an AWS Organization for RAM: its management account, ID and member accounts.

    moto's Organizations backend cannot create accounts with chosen IDs, so membership is declared
    here. ``owner_account`` (the management account) is always a member. ``organizational_units``
    maps OU IDs (``ou-...``) to their member accounts; an OU ARN of this organization that is not
    listed stands for every member. Without any configuration every principal is outside.
    """
    accounts = frozenset(members) | {owner_account}
    bad = sorted(a for a in accounts if not _ACCOUNT_RE.match(a))
    if bad:
        raise ValueError(f"not 12-digit account IDs: {bad}")
    units = {ou: frozenset(accts) for ou, accts in (organizational_units or {}).items()}
    with _LOCK:
        _ORGANIZATIONS[owner_account] = _Organization(owner_account, org_id, accounts, units)


def _organization_of(account: str) -> _Organization | None:
    for org in _ORGANIZATIONS.values():
        if account in org.members:
            return org
    return None


@dataclass(frozen=True)
class _PrincipalCheck:
    principal: str
    inside: bool
    receiver: str | None  # the account an invitation goes to when outside


def _check_principal(owner: str, principal: str, allow_external: bool) -> _PrincipalCheck:
    org = _organization_of(owner)
    if match := _ORG_RE.match(principal):
        if org is None or org.org_id != match[2]:
            raise RamError("UnknownResourceException", f"Organization {match[2]} could not be found.")
        return _PrincipalCheck(principal, True, None)
    if match := _OU_RE.match(principal):
        if org is None or org.org_id != match[2] or (org.units and match[3] not in org.units):
            raise RamError(
                "UnknownResourceException",
                f"OrganizationalUnit {match[3]} in unknown organization could not be found.",
            )
        return _PrincipalCheck(principal, True, None)
    if _SERVICE_RE.match(principal):
        return _PrincipalCheck(principal, True, None)
    if _ACCOUNT_RE.match(principal):
        account = principal
    elif match := _IAM_RE.match(principal):
        account = match[1]
    else:
        raise RamError(
            "InvalidParameterException", f"Principal ID {principal} is malformed. Verify the ID and try again."
        )
    inside = account == owner or (org is not None and account in org.members)
    if not inside and not allow_external:
        # RAM user guide, "Errors when trying to share with accounts outside of my organization":
        # a share that does not allow external principals rejects them with InvalidParameterException
        # and this message (OperationNotPermittedException is for resource types that can never
        # leave the organization, which is not the case for model cards).
        raise RamError(
            "InvalidParameterException",
            f"Principal {account} is not in your AWS organization. "
            "You do not have permission to add external AWS accounts to a resource share.",
        )
    return _PrincipalCheck(principal, inside, None if inside else account)


def _principal_covers(owner: str, entity: str, caller: str) -> bool:
    """Whether the principal ``entity`` of ``owner``'s share stands for account ``caller``."""
    if entity == caller:
        return True
    org = _organization_of(owner)
    if org is None or caller not in org.members:
        return False
    if (match := _ORG_RE.match(entity)) and match[2] == org.org_id:
        return True
    if (match := _OU_RE.match(entity)) and match[2] == org.org_id:
        return caller in org.units.get(match[3], org.members)
    return False


def _caller_has_access(share: ResourceShare, caller: str) -> bool:
    return share.status == "ACTIVE" and any(
        a.status == ASSOCIATED and _principal_covers(share.owning_account_id, entity, caller)
        for entity, a in _share_state(share).principals.items()
    )


# ---- resources and permissions --------------------------------------------------------------------

_RESOURCE_ARN_RE = re.compile(r"^arn:aws:([a-z0-9-]+):[a-z0-9-]*:[0-9]{12}:([a-z-]+)[/:].*$")


def _resource_type(arn: str) -> str:
    """``arn:aws:sagemaker:…:model-card/x`` → ``sagemaker:ModelCard``."""
    match = _RESOURCE_ARN_RE.match(arn)
    if not match:
        return ""
    return match[1] + ":" + "".join(part.capitalize() for part in match[2].split("-"))


def _check_resources(arns: list[str]) -> None:
    # The same checks as stock ResourceShare.add_resources (which the model-card patch widens), run
    # before anything changes so that a bad ARN leaves the share untouched.
    for arn in arns:
        match = _RESOURCE_ARN_RE.match(arn)
        if not match:
            raise RamError(
                "MalformedArnException",
                f"The specified resource ARN {arn} is not valid. Verify the ARN and try again.",
            )
        if match[2] not in ResourceShare.SHAREABLE_RESOURCES:
            raise RamError("MalformedArnException", "You cannot share the selected resource type.")


def _managed_permission(arn: str) -> dict[str, Any] | None:
    for permission in ram_utils.AWS_MANAGED_PERMISSIONS:
        if permission["arn"] == arn:
            return dict(permission)
    return None


def _customer_permission(arn: str, region: str) -> _CustomerPermission | None:
    match = re.match(r"^arn:aws:ram:([a-z0-9-]+):(\d{12}):permission/", arn)
    if not match or match[1] != region:
        return None
    backend = _existing_backend(match[2], region)
    return None if backend is None else _backend_state(backend).permissions.get(arn)


def _permission_resource_type(arn: str, region: str) -> str | None:
    if managed := _managed_permission(arn):
        return str(managed["resourceType"])
    if customer := _customer_permission(arn, region):
        return customer.resource_type
    return None


def _permission_actions(arn: str, region: str) -> frozenset[str]:
    if arn in MANAGED_PERMISSION_ACTIONS:
        return MANAGED_PERMISSION_ACTIONS[arn]
    customer = _customer_permission(arn, region)
    return customer.actions if customer else frozenset()


def _check_permissions(backend: ResourceAccessManagerBackend, arns: list[str]) -> list[str]:
    types: dict[str, str] = {}
    for arn in arns:
        resource_type = _permission_resource_type(arn, backend.region_name)
        customer = _customer_permission(arn, backend.region_name)
        if resource_type is None or (customer is not None and arn.split(":")[4] != backend.account_id):
            raise RamError("UnknownResourceException", f"Permission {arn} could not be found.")
        if resource_type.lower() in types:
            # RAM: a share holds exactly one permission per resource type.
            raise RamError(
                "InvalidParameterException",
                f"Permissions {types[resource_type.lower()]} and {arn} are for the same resource type "
                f"{resource_type}; a resource share can have only one permission per resource type.",
            )
        types[resource_type.lower()] = arn
    return list(arns)


def _attach_default_permissions(share: ResourceShare) -> None:
    # RAM attaches the resource type's default AWS managed permission when the share has none for
    # the type of a resource being added.
    state = _share_state(share)
    have = {(_permission_resource_type(a, share.region) or "").lower() for a in state.permission_arns}
    for arn in state.resources:
        resource_type = _resource_type(arn).lower()
        if resource_type in have:
            continue
        default = next(
            (
                p["arn"]
                for p in ram_utils.AWS_MANAGED_PERMISSIONS
                if p["resourceType"].lower() == resource_type and p["isResourceTypeDefault"]
            ),
            None,
        )
        if default:
            state.permission_arns.append(default)
            have.add(resource_type)


# ---- associations ---------------------------------------------------------------------------------


def _check_transitions(associations: Mapping[str, _Association], entities: Iterable[str], blocked: str) -> None:
    for entity in entities:
        existing = associations.get(entity)
        if existing is not None and existing.status == blocked:
            raise RamError(
                "InvalidStateTransitionException",
                f"The association of {entity} with resource share {existing.share_arn} is {blocked}; "
                "wait until it completes and try again.",
            )


def resources_per_share() -> int:
    """The local quota of resource associations per share: the override, the environment, or 5,000."""
    if RESOURCES_PER_SHARE is not None:
        return RESOURCES_PER_SHARE
    raw = os.environ.get(RESOURCES_PER_SHARE_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_RESOURCES_PER_SHARE
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{RESOURCES_PER_SHARE_VARIABLE}: {raw!r} is not a positive whole number")
    return int(raw)


def _check_share_limit(share: ResourceShare, resources: list[str]) -> None:
    """Refuse to grow a share past its quota, as RAM does (ResourceShareLimitExceededException, 400).

    What the share holds counts (ASSOCIATING and ASSOCIATED); a resource it already holds is not new.
    """
    held = {arn for arn, a in _share_state(share).resources.items() if a.status in (ASSOCIATING, ASSOCIATED)}
    limit = resources_per_share()
    wanted = held | set(resources)
    if len(wanted) > limit and len(wanted) > len(held):
        raise RamError(
            "ResourceShareLimitExceededException",
            f"The resource share {share.arn} already has {len(held)} resource associations; associating "
            f"{len(wanted) - len(held)} more would exceed the limit of {limit} resource associations "
            "per resource share.",
        )


def _start_associations(
    backend: ResourceAccessManagerBackend, share: ResourceShare, resources: list[str], checks: list[_PrincipalCheck]
) -> list[dict[str, Any]]:
    """Associate (validated) resources and principals; return their rows."""
    state = _share_state(share)
    touched: list[_Association] = []
    failure: str | None = None
    if any(arn not in state.resources or state.resources[arn].status in (FAILED, DISASSOCIATED) for arn in resources):
        with _LOCK:
            failure = _FAILURES.pop(0) if _FAILURES else None
    for arn in resources:
        target, message = (FAILED, failure) if failure is not None else (ASSOCIATED, None)
        existing = state.resources.get(arn)
        if existing is None:
            existing = state.resources[arn] = _Association(share.arn, "RESOURCE", arn, ASSOCIATING)
            existing.move(ASSOCIATING, target, message)
        elif existing.status in (FAILED, DISASSOCIATED):
            existing.move(ASSOCIATING, target, message)
        touched.append(existing)
    for check in checks:
        existing = state.principals.get(check.principal)
        if existing is None or existing.status in (FAILED, DISASSOCIATED):
            if existing is None:
                existing = state.principals[check.principal] = _Association(
                    share.arn, "PRINCIPAL", check.principal, ASSOCIATING, external=not check.inside
                )
            if check.inside:
                # Inside the organization RAM grants access without an invitation.
                existing.move(ASSOCIATED)
            else:
                # Outside it, the account must accept an invitation first.
                existing.move(ASSOCIATING)
                _invite(backend, share, check)
        touched.append(existing)
    _attach_default_permissions(share)
    _sync_stock_lists(share)
    return [a.describe(share) for a in touched]


def _invite(backend: ResourceAccessManagerBackend, share: ResourceShare, check: _PrincipalCheck) -> None:
    invitations = _backend_state(backend).invitations
    receiver = str(check.receiver)
    if any(i.share_arn == share.arn and i.receiver == receiver and i.status == "PENDING" for i in invitations.values()):
        return
    arn = f"arn:aws:ram:{share.region}:{backend.account_id}:resource-share-invitation/{uuid.uuid4()}"
    invitations[arn] = _Invitation(arn, share.arn, share.name, backend.account_id, receiver, check.principal)


def _idempotent(
    backend: ResourceAccessManagerBackend, operation: str, params: Mapping[str, Any], run: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """Honour ``clientToken``: replay the first result, or refuse the token with other parameters."""
    token = params.get("clientToken")
    if not token:
        return run()
    fingerprint = json.dumps({k: v for k, v in params.items() if k != "clientToken"}, sort_keys=True)
    tokens = _backend_state(backend).client_tokens
    if (operation, token) in tokens:
        seen, result = tokens[(operation, token)]
        if seen != fingerprint:
            raise RamError(
                "IdempotentParameterMismatchException",
                f"The client token {token} was already used with different parameters.",
            )
        return copy.deepcopy(result)
    result = {**run(), "clientToken": token}
    tokens[(operation, token)] = (fingerprint, copy.deepcopy(result))
    return result


# ---- pagination -----------------------------------------------------------------------------------


def _page(rows: list[tuple[int, Any]], params: Mapping[str, Any]) -> tuple[list[Any], str | None]:
    """One page of ``(unique sort key, row)`` pairs after ``nextToken``, at most ``maxResults`` long."""
    rows = sorted(rows, key=lambda r: r[0])
    token = params.get("nextToken")
    if token:
        try:
            after = int(json.loads(base64.urlsafe_b64decode(token.encode()))["after"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise RamError("InvalidNextTokenException", "The specified value for NextToken is not valid.") from None
        rows = [r for r in rows if r[0] > after]
    limit = params.get("maxResults")
    # RAM never returns more than its maximum page: an omitted maxResults is "a value specific to the
    # operation" (API reference), never the whole list. Locally that value is the maximum.
    limit = MAX_PAGE if limit is None else int(limit)
    if not 1 <= limit <= MAX_PAGE:
        raise RamError("InvalidParameterException", f"maxResults must be between 1 and {MAX_PAGE}.")
    page = rows[:limit]
    if len(rows) <= limit:
        return [r for _, r in page], None
    next_token = base64.urlsafe_b64encode(json.dumps({"after": page[-1][0]}).encode()).decode()
    return [r for _, r in page], next_token


def _with_token(result: dict[str, Any], token: str | None) -> dict[str, Any]:
    if token:
        result["nextToken"] = token
    return result


# ---- operations -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Call:
    backend: ResourceAccessManagerBackend
    caller: str
    region: str
    params: dict[str, Any]


def _associate_resource_share(call: _Call) -> dict[str, Any]:
    share = _own_share(call.backend, call.params.get("resourceShareArn"))

    def run() -> dict[str, Any]:
        if share.status != "ACTIVE":
            raise RamError("InvalidStateTransitionException", f"The resource share {share.arn} is {share.status}.")
        resources = list(call.params.get("resourceArns") or [])
        principals = list(call.params.get("principals") or [])
        _check_resources(resources)
        checks = [_check_principal(call.caller, p, share.allow_external_principals) for p in principals]
        state = _share_state(share)
        _check_transitions(state.resources, resources, DISASSOCIATING)
        _check_transitions(state.principals, principals, DISASSOCIATING)
        _check_share_limit(share, resources)
        return {"resourceShareAssociations": _start_associations(call.backend, share, resources, checks)}

    return _idempotent(call.backend, "AssociateResourceShare", call.params, run)


def _disassociate_resource_share(call: _Call) -> dict[str, Any]:
    share = _own_share(call.backend, call.params.get("resourceShareArn"))

    def run() -> dict[str, Any]:
        state = _share_state(share)
        wanted = [(state.resources, arn) for arn in call.params.get("resourceArns") or []] + [
            (state.principals, p) for p in call.params.get("principals") or []
        ]
        for associations, entity in wanted:
            if entity not in associations:
                raise RamError(
                    "UnknownResourceException", f"{entity} is not associated with resource share {share.arn}."
                )
        _check_transitions(state.resources, call.params.get("resourceArns") or [], ASSOCIATING)
        _check_transitions(state.principals, call.params.get("principals") or [], ASSOCIATING)
        rows = []
        for associations, entity in wanted:
            association = associations[entity]
            if association.status == ASSOCIATED:
                association.move(DISASSOCIATING, DISASSOCIATED)
            elif association.status == FAILED:
                association.move(DISASSOCIATED)
            rows.append(association.describe(share))
        _sync_stock_lists(share)
        return {"resourceShareAssociations": rows}

    return _idempotent(call.backend, "DisassociateResourceShare", call.params, run)


def _get_resource_share_associations(call: _Call) -> dict[str, Any]:
    p = call.params
    kind = p.get("associationType")
    if kind not in ("PRINCIPAL", "RESOURCE"):
        raise RamError(
            "InvalidParameterException",
            f"{kind} is not a valid association type. Specify either PRINCIPAL or RESOURCE and try again.",
        )
    status = p.get("associationStatus")
    if status and status not in _STATUSES:
        raise RamError("InvalidParameterException", f"{status} is not a valid association status.")
    if kind == "PRINCIPAL" and p.get("resourceArn"):
        raise RamError(
            "InvalidParameterException", "You cannot specify a resource ARN when the association type is PRINCIPAL."
        )
    if kind == "RESOURCE" and p.get("principal"):
        raise RamError(
            "InvalidParameterException", "You cannot specify a principal when the association type is RESOURCE."
        )
    share_arns = p.get("resourceShareArns") or []
    shares = [_own_share(call.backend, arn) for arn in share_arns] if share_arns else call.backend.resource_shares
    entity = p.get("resourceArn") if kind == "RESOURCE" else p.get("principal")
    candidates: list[tuple[int, tuple[ResourceShare, _Association]]] = []
    for share in shares:
        state = _share_state(share)
        for association in (state.resources if kind == "RESOURCE" else state.principals).values():
            if entity and association.entity != entity:
                continue
            # AWS finishes the work in the background; locally it finishes once enough reads saw it.
            association.settle_if_due()
            if status and association.status != status:
                continue
            candidates.append((association.seq, (share, association)))
    page, token = _page(candidates, p)
    rows = []
    for share, association in page:
        rows.append(association.describe(share))
        association.observed()
    return _with_token({"resourceShareAssociations": rows}, token)


def _received_invitations(call: _Call) -> list[_Invitation]:
    return [
        invitation
        for backend in _backends_in(call.region)
        for invitation in _backend_state(backend).invitations.values()
        if invitation.receiver == call.caller
    ]


def _get_resource_share_invitations(call: _Call) -> dict[str, Any]:
    invitations = _received_invitations(call)
    wanted = call.params.get("resourceShareInvitationArns") or []
    known = {i.arn for i in invitations}
    for arn in wanted:
        if arn not in known:
            raise RamError(
                "ResourceShareInvitationArnNotFoundException", f"ResourceShareInvitation {arn} could not be found."
            )
    share_arns = call.params.get("resourceShareArns") or []
    rows = [
        (i.seq, i.describe())
        for i in invitations
        if (not wanted or i.arn in wanted) and (not share_arns or i.share_arn in share_arns)
    ]
    page, token = _page(rows, call.params)
    return _with_token({"resourceShareInvitations": page}, token)


def _answer_invitation(call: _Call, accept: bool) -> dict[str, Any]:
    arn = call.params.get("resourceShareInvitationArn")
    invitation = next((i for i in _received_invitations(call) if i.arn == arn), None)
    if invitation is None:
        raise RamError(
            "ResourceShareInvitationArnNotFoundException", f"ResourceShareInvitation {arn} could not be found."
        )
    if invitation.status == "ACCEPTED":
        raise RamError(
            "ResourceShareInvitationAlreadyAcceptedException", f"ResourceShareInvitation {arn} is already accepted."
        )
    if invitation.status == "REJECTED":
        raise RamError(
            "ResourceShareInvitationAlreadyRejectedException", f"ResourceShareInvitation {arn} is already rejected."
        )
    invitation.status = "ACCEPTED" if accept else "REJECTED"
    owner = _existing_backend(invitation.sender, call.region)
    share = next((s for s in owner.resource_shares if s.arn == invitation.share_arn), None) if owner else None
    if share is not None:
        association = _share_state(share).principals.get(invitation.principal)
        if association is not None and association.status == ASSOCIATING:
            # Accepting completes the principal association; rejecting ends it (approximation: AWS
            # removes the principal from the share).
            association.move(ASSOCIATED if accept else DISASSOCIATED)
            _sync_stock_lists(share)
    result: dict[str, Any] = {"resourceShareInvitation": invitation.describe()}
    if call.params.get("clientToken"):
        result["clientToken"] = call.params["clientToken"]
    return result


def _list_resources(call: _Call) -> dict[str, Any]:
    p = call.params
    owner = p.get("resourceOwner")
    if owner not in ("SELF", "OTHER-ACCOUNTS"):
        raise RamError(
            "InvalidParameterException",
            f"{owner} is not a valid resource owner. Specify either SELF or OTHER-ACCOUNTS and try again.",
        )
    scope = p.get("resourceRegionScope") or "ALL"
    if scope not in ("ALL", "REGIONAL", "GLOBAL"):
        raise RamError("InvalidParameterException", f"{scope} is not a valid resource region scope value.")
    resource_type = (p.get("resourceType") or "").lower()
    arns = p.get("resourceArns") or []
    share_arns = p.get("resourceShareArns") or []
    principal = p.get("principal")
    if owner == "SELF":
        shares = [
            s
            for s in call.backend.resource_shares
            if s.status == "ACTIVE"
            and (
                not principal
                or any(a.status == ASSOCIATED and e == principal for e, a in _share_state(s).principals.items())
            )
        ]
    else:
        # Resources other accounts shared with the caller: only through shares whose principal
        # association for the caller is ASSOCIATED (an invitation must have been accepted).
        shares = [
            s
            for backend in _backends_in(call.region)
            if backend.account_id != call.caller
            for s in backend.resource_shares
            if _caller_has_access(s, call.caller)
        ]
    rows = []
    for share in shares:
        if share_arns and share.arn not in share_arns:
            continue
        for arn, association in _share_state(share).resources.items():
            if association.status != ASSOCIATED or (arns and arn not in arns):
                continue
            if resource_type and _resource_type(arn).lower() != resource_type:
                continue
            if scope == "GLOBAL":
                continue
            row = {
                "arn": arn,
                "type": _resource_type(arn),
                "resourceShareArn": share.arn,
                "status": "AVAILABLE",
                "creationTime": unix_time(association.created),
                "lastUpdatedTime": unix_time(association.updated),
                "resourceRegionScope": "REGIONAL",
            }
            rows.append((association.seq, row))
    page, token = _page(rows, p)
    return _with_token({"resources": page}, token)


def _create_permission(call: _Call) -> dict[str, Any]:
    p = call.params
    name = p.get("name") or ""
    resource_type = p.get("resourceType") or ""

    def run() -> dict[str, Any]:
        if not re.match(r"^[A-Za-z0-9_-]{1,36}$", name):
            raise RamError(
                "InvalidParameterException",
                f"Permission name {name!r} is not valid: use up to 36 letters, digits, hyphens and underscores.",
            )
        if not any(t["resourceType"].lower() == resource_type.lower() for t in ram_utils.RAM_RESOURCE_TYPES):
            raise RamError("InvalidParameterException", f"Invalid resource type: {resource_type}")
        template, actions = _parse_policy_template(p.get("policyTemplate"), resource_type)
        arn = f"arn:aws:ram:{call.region}:{call.caller}:permission/{name}"
        permissions = _backend_state(call.backend).permissions
        if arn in permissions:
            raise RamError("PermissionAlreadyExistsException", f"Permission {name} already exists.")
        permission = permissions[arn] = _CustomerPermission(arn, name, resource_type, template, actions)
        return {"permission": permission.summary()}

    return _idempotent(call.backend, "CreatePermission", p, run)


def _parse_policy_template(text: Any, resource_type: str) -> tuple[dict[str, Any], frozenset[str]]:
    def malformed(why: str) -> RamError:
        return RamError("MalformedPolicyTemplateException", f"The policy template is not valid: {why}.")

    try:
        template = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        template = None
    if not isinstance(template, dict):
        raise malformed("it must be a JSON object")
    # A RAM permission template is one statement without Resource or Principal: RAM supplies both.
    if {"Resource", "NotResource", "Principal", "NotPrincipal"} & set(template):
        raise malformed("Resource and Principal are not allowed")
    if template.get("Effect") != "Allow":
        raise malformed('Effect must be "Allow"')
    actions = template.get("Action")
    actions = [actions] if isinstance(actions, str) else actions
    if not actions or not all(isinstance(a, str) for a in actions):
        raise malformed("Action must be an action or a list of actions")
    service = resource_type.split(":")[0].lower()
    foreign = [a for a in actions if a.split(":")[0].lower() != service]
    if foreign:
        raise malformed(f"actions {foreign} are not for {resource_type}")
    return template, frozenset(actions)


def _permission_summary(arn: str, region: str) -> dict[str, Any] | None:
    if managed := _managed_permission(arn):
        return {**managed, "featureSet": "STANDARD"}
    if customer := _customer_permission(arn, region):
        return customer.summary()
    return None


def _get_permission(call: _Call) -> dict[str, Any]:
    arn = call.params.get("permissionArn") or ""
    if not arn.startswith("arn:"):
        raise RamError("MalformedArnException", f"The specified permission ARN {arn} is not valid.")
    summary = _permission_summary(arn, call.region)
    customer = _customer_permission(arn, call.region)
    if summary is None:
        raise RamError("UnknownResourceException", f"Permission {arn} could not be found.")
    if customer is not None:
        template = customer.template
    else:
        template = {"Effect": "Allow", "Action": sorted(MANAGED_PERMISSION_ACTIONS.get(arn, ()))}
    return {"permission": {**summary, "permission": json.dumps(template)}}


def _list_permissions(call: _Call) -> dict[str, Any]:
    p = call.params
    resource_type = (p.get("resourceType") or "").lower()
    # The API's values are ALL | AWS_MANAGED | CUSTOMER_MANAGED (moto's stock code knew AWS | LOCAL).
    permission_type = {"AWS": "AWS_MANAGED", "LOCAL": "CUSTOMER_MANAGED"}.get(
        p.get("permissionType") or "ALL", p.get("permissionType") or "ALL"
    )
    if permission_type not in ("ALL", "AWS_MANAGED", "CUSTOMER_MANAGED"):
        raise RamError(
            "InvalidParameterException",
            f"{permission_type} is not a valid permission type. Must be one of: ALL, AWS_MANAGED, CUSTOMER_MANAGED.",
        )
    if resource_type and not any(t["resourceType"].lower() == resource_type for t in ram_utils.RAM_RESOURCE_TYPES):
        raise RamError("InvalidParameterException", f"Invalid resource type: {p.get('resourceType')}")
    rows: list[dict[str, Any]] = []
    if permission_type in ("ALL", "AWS_MANAGED"):
        rows += [{**m, "featureSet": "STANDARD"} for m in ram_utils.AWS_MANAGED_PERMISSIONS]
    if permission_type in ("ALL", "CUSTOMER_MANAGED"):
        rows += [c.summary() for c in _backend_state(call.backend).permissions.values()]
    rows = [r for r in rows if not resource_type or r["resourceType"].lower() == resource_type]
    page, token = _page(list(enumerate(rows)), p)
    return _with_token({"permissions": page}, token)


def _list_resource_share_permissions(call: _Call) -> dict[str, Any]:
    arn = call.params.get("resourceShareArn")
    match = re.match(r"^arn:aws:ram:[a-z0-9-]+:(\d{12}):resource-share/", arn or "")
    owner = _existing_backend(match[1], call.region) if match else None
    share = next((s for s in owner.resource_shares if s.arn == arn), None) if owner else None
    if share is None or (share.owning_account_id != call.caller and not _caller_has_access(share, call.caller)):
        raise _unknown_share(arn)
    rows = [s for a in _share_state(share).permission_arns if (s := _permission_summary(a, call.region))]
    page, token = _page(list(enumerate(rows)), call.params)
    return _with_token({"permissions": page}, token)


#: botocore operation name → handler. Each becomes a method of moto's RAM response class and a path
#: in moto's RAM URL map (two of them replace stock handlers that lacked pagination or statuses).
_OPERATIONS: dict[str, Callable[[_Call], dict[str, Any]]] = {
    "AssociateResourceShare": _associate_resource_share,
    "DisassociateResourceShare": _disassociate_resource_share,
    "GetResourceShareAssociations": _get_resource_share_associations,
    "GetResourceShareInvitations": _get_resource_share_invitations,
    "AcceptResourceShareInvitation": lambda call: _answer_invitation(call, accept=True),
    "RejectResourceShareInvitation": lambda call: _answer_invitation(call, accept=False),
    "ListResources": _list_resources,
    "CreatePermission": _create_permission,
    "GetPermission": _get_permission,
    "ListPermissions": _list_permissions,
    "ListResourceSharePermissions": _list_resource_share_permissions,
}


# ---- public API -----------------------------------------------------------------------------------


def shared_actions(owner_account: str, region: str, resource_arn: str, caller_account: str) -> frozenset[str]:
    """The IAM actions ``caller_account`` may perform on ``resource_arn`` through ``owner_account``'s shares.

    Counts only ACTIVE shares in ``region`` whose resource association for ``resource_arn`` is
    ASSOCIATED and that have an ASSOCIATED principal association covering the caller (its account
    ID, or the organization / an OU it belongs to). The result is the union of the actions of those
    shares' permissions for the resource's type; empty when nothing grants access.
    """
    backend = _existing_backend(owner_account, region)
    if backend is None or caller_account == owner_account:
        return frozenset()
    resource_type = _resource_type(resource_arn).lower()
    actions: set[str] = set()
    with _LOCK:
        for share in backend.resource_shares:
            state = _share_state(share)
            association = state.resources.get(resource_arn)
            if association is None or association.status != ASSOCIATED or not _caller_has_access(share, caller_account):
                continue
            for permission in state.permission_arns:
                if (_permission_resource_type(permission, region) or "").lower() == resource_type:
                    actions |= _permission_actions(permission, region)
    return frozenset(actions)


def settle(owner_account: str | None = None) -> None:
    """Finish every association still in transition (all owners, or one), as AWS eventually does."""
    with _LOCK:
        for backend in (b for per_region in list(ram_backends.values()) for b in list(per_region.values())):
            if owner_account and backend.account_id != owner_account:
                continue
            for share in backend.resource_shares:
                state = _share_state(share)
                for association in [*state.resources.values(), *state.principals.values()]:
                    association.settle()


def inject_error(
    operation: str,
    code: str,
    times: int = 1,
    message: str = "Injected by cardshare_local.extensions.ram",
    status: int | None = None,
) -> None:
    """Make the next ``times`` calls of RAM ``operation`` (botocore name) in any account fail with ``code``.

    ``status`` defaults to the HTTP status RAM's API model declares for ``code`` (429 for
    ThrottlingException), else 400. Note that boto3 clients retry throttling errors by default;
    Step Functions' interpreter clients in moto do not.
    """
    if operation not in _ram_model().operation_names:
        raise ValueError(f"{operation!r} is not a RAM operation")
    if times < 1:
        raise ValueError("times must be at least 1")
    fault = _Fault(code, message, status if status is not None else _error_status(code), times)
    with _LOCK:
        _FAULTS.setdefault(operation, []).append(fault)


def fail_next_association(message: str = "Injected association failure") -> None:
    """Make the next call that starts resource associations end them FAILED with ``message``."""
    with _LOCK:
        _FAILURES.append(message)


def before_next(operation: str, callback: Callable[[], None]) -> None:
    """Run ``callback`` just before the next call of RAM ``operation`` is served.

    Tests use it to force an interleaving deterministically, e.g. change a card's status between
    the workflow's read and its associate call.
    """
    if operation not in _ram_model().operation_names:
        raise ValueError(f"{operation!r} is not a RAM operation")
    with _LOCK:
        _HOOKS.setdefault(operation, []).append(callback)


def reset_faults() -> None:
    """Forget injected errors, association failures and pending hooks."""
    with _LOCK:
        _FAULTS.clear()
        _FAILURES.clear()
        _HOOKS.clear()


def reset() -> None:
    """Forget the organization, faults and read counters (moto's own reset clears shares)."""
    with _LOCK:
        _ORGANIZATIONS.clear()
        reset_faults()
        for per_region in list(ram_backends.values()):
            for backend in list(per_region.values()):
                for share in backend.resource_shares:
                    state = _share_state(share)
                    for association in [*state.resources.values(), *state.principals.values()]:
                        association.reads = 0


def _take_fault(operation: str) -> _Fault | None:
    with _LOCK:
        queue = _FAULTS.get(operation)
        if not queue:
            return None
        fault = queue[0]
        fault.remaining -= 1
        if fault.remaining <= 0:
            queue.pop(0)
        return fault


# ---- patches --------------------------------------------------------------------------------------

_ORIGINALS: dict[str, Any] = {}


def _patch_model_cards_shareable() -> None:
    """SageMaker model cards are a RAM resource type (``sagemaker:ModelCard``) with two managed permissions.

    Stock moto raises MalformedArnException for ``model-card`` ARNs and lists neither the type nor
    its permissions.
    """
    if "model-card" not in ResourceShare.SHAREABLE_RESOURCES:
        ResourceShare.SHAREABLE_RESOURCES.append("model-card")
    if not any(t["resourceType"] == MODEL_CARD_RESOURCE_TYPE for t in ram_utils.RAM_RESOURCE_TYPES):
        ram_utils.RAM_RESOURCE_TYPES.append(
            {"resourceType": MODEL_CARD_RESOURCE_TYPE, "serviceName": "sagemaker", "resourceRegionScope": "REGIONAL"}
        )
    known = {p["arn"] for p in ram_utils.AWS_MANAGED_PERMISSIONS}
    for arn, is_default in ((MODEL_CARD_PERMISSION_ARN, True), (MODEL_CARD_EXPORT_PERMISSION_ARN, False)):
        if arn not in known:
            ram_utils.AWS_MANAGED_PERMISSIONS.append(
                ram_utils.format_ram_permission(
                    name=arn.rsplit("/", 1)[1],
                    resource_type=MODEL_CARD_RESOURCE_TYPE,
                    creation_time="2022-11-30 00:00:00.000000",
                    is_resource_type_default=is_default,
                )
            )


def _patch_create_resource_share() -> None:
    """CreateResourceShare keeps permissions, checks principals against the organization, honours clientToken.

    Stock moto drops ``permissionArns``, validates org principals against moto's Organizations
    backend (which cannot hold our accounts), marks everything ASSOCIATED and sends no invitations.
    """
    original = _ORIGINALS.setdefault("create_resource_share", ResourceAccessManagerBackend.create_resource_share)

    def create_resource_share(self: ResourceAccessManagerBackend, **kwargs: Any) -> dict[str, Any]:
        def run() -> dict[str, Any]:
            resources = list(kwargs.get("resourceArns") or [])
            principals = list(kwargs.get("principals") or [])
            allow_external = kwargs.get("allowExternalPrincipals", True)
            # Validate everything first: a refused request creates nothing.
            _check_resources(resources)
            checks = [_check_principal(self.account_id, p, allow_external) for p in principals]
            permissions = _check_permissions(self, list(kwargs.get("permissionArns") or []))
            stock_kwargs = {k: v for k, v in kwargs.items() if k not in ("resourceArns", "principals")}
            result: dict[str, Any] = original(self, **stock_kwargs)
            share = _own_share(self, result["resourceShare"]["resourceShareArn"])
            _share_state(share).permission_arns = permissions
            _start_associations(self, share, resources, checks)
            return result

        with _LOCK:
            return _idempotent(self, "CreateResourceShare", kwargs, run)

    ResourceAccessManagerBackend.create_resource_share = create_resource_share  # type: ignore[method-assign]


def _patch_delete_resource_share() -> None:
    """Deleting a share ends its associations (they read DISASSOCIATED), so it grants nothing any more."""
    original = _ORIGINALS.setdefault("delete", ResourceShare.delete)

    def delete(self: ResourceShare) -> None:
        original(self)
        state = _share_state(self)
        for association in [*state.resources.values(), *state.principals.values()]:
            if association.status != DISASSOCIATED:
                association.move(DISASSOCIATED)
        _sync_stock_lists(self)

    ResourceShare.delete = delete  # type: ignore[method-assign]


def _patch_get_resource_shares_other_accounts() -> None:
    """GetResourceShares(resourceOwner=OTHER-ACCOUNTS) lists shares the caller belongs to (stock raises)."""
    original: Callable[[ResourceAccessManagerBackend, str | None], dict[str, Any]] = _ORIGINALS.setdefault(
        "get_resource_shares", ResourceAccessManagerBackend.get_resource_shares
    )

    def get_resource_shares(self: ResourceAccessManagerBackend, resource_owner: str | None) -> dict[str, Any]:
        if resource_owner != "OTHER-ACCOUNTS":
            return original(self, resource_owner)
        with _LOCK:
            shares = [
                s.describe()
                for backend in _backends_in(self.region_name)
                if backend.account_id != self.account_id
                for s in backend.resource_shares
                if _caller_has_access(s, self.account_id)
            ]
        return {"resourceShares": shares}

    ResourceAccessManagerBackend.get_resource_shares = get_resource_shares  # type: ignore[method-assign]


def _response_method(handler: Callable[[_Call], dict[str, Any]], name: str) -> Callable[[Any], str]:
    def method(self: ResourceAccessManagerResponse) -> str:
        call = _Call(self.ram_backend, self.current_account, self.region, self.request_params)
        with _LOCK:
            return json.dumps(handler(call))

    method.__name__ = method.__qualname__ = name
    return method


def _patch_operations() -> None:
    """Add the RAM operations cardshare calls to moto's RAM responses and URL map.

    Both mock_aws and the server route by ``moto.ram.urls.url_paths`` and then call the response
    method named after the operation (snake_case), so each operation needs both.
    """
    for operation, handler in _OPERATIONS.items():
        name = camelcase_to_underscores(operation)
        setattr(ResourceAccessManagerResponse, name, _response_method(handler, name))
        path = _ram_model().operation_model(operation).http["requestUri"].split("?")[0]
        pattern = "{0}" + path + "$"
        if not any(re.fullmatch(p.format(""), path) for p in ram_urls.url_paths):
            ram_urls.url_paths[pattern] = ResourceAccessManagerResponse.dispatch


def _patch_fault_injection() -> None:
    """Injected faults answer a RAM call as AWS would (botocore sees the code; ThrottlingException is a 429)."""
    original: Callable[[BaseResponse], TYPE_RESPONSE] = _ORIGINALS.setdefault(
        "call_action", ResourceAccessManagerResponse.call_action
    )

    # Typed as moto's BaseResponse.call_action (which it replaces); it only runs for RAM's responses.
    def call_action(self: BaseResponse) -> TYPE_RESPONSE:
        with _LOCK:
            hooks = _HOOKS.get(self._get_action())
            hook = hooks.pop(0) if hooks else None
        if hook is not None:
            hook()  # outside the lock: the callback may call AWS (RAM included)
        fault = _take_fault(self._get_action())
        if fault is None:
            return original(self)
        error = RamError(fault.code, fault.message, fault.status)
        headers = {**self.response_headers, **dict(error.get_headers())}
        return error.code, headers, error.get_body()

    ResourceAccessManagerResponse.call_action = call_action  # type: ignore[method-assign]


def install() -> None:
    """Apply the RAM patches to moto (idempotent). Run it before a server's first RAM request."""
    global _INSTALLED
    with _LOCK:
        if _INSTALLED:
            return
        _patch_model_cards_shareable()
        _patch_create_resource_share()
        _patch_delete_resource_share()
        _patch_get_resource_shares_other_accounts()
        _patch_operations()
        _patch_fault_injection()
        _INSTALLED = True
