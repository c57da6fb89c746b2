"""The stage ladder: which RAM shares, with which access, hold a card in each status.

The ladder is data. It arrives as JSON (built by the template from its parameters) and is
validated here, once, so that a bad configuration fails with a message naming the field
instead of misbehaving later.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from cardshare.status import CardStatus

_ACCOUNT_ID = re.compile(r"^\d{12}$")
_ORG_ARN = re.compile(r"^arn:aws[a-z-]*:organizations::\d{12}:organization/o-[a-z0-9]{10,32}$")
_OU_ARN = re.compile(r"^arn:aws[a-z-]*:organizations::\d{12}:ou/o-[a-z0-9]{10,32}/ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}$")
_SHARE_ARN = re.compile(r"^arn:aws[a-z-]*:ram:[a-z0-9-]+:\d{12}:resource-share/[A-Za-z0-9-]+$")
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")


class ConfigError(ValueError):
    """The stage ladder configuration is invalid; the message names the offending field."""


class Access(StrEnum):
    """What a stage's accounts may do with a shared card."""

    READ_WRITE = "read-write"
    READ_ONLY = "read-only"


@dataclass(frozen=True)
class Stage:
    """One rung of the ladder: its RAM shares, its principals, its access and the statuses that grant it.

    A stage spans several shares (``share_arns``, in slot order, at least one) when it must hold
    more cards than one share allows (RAM: 5,000 resource associations per share). Every share of
    a stage has the same principals and permission; a card is in the stage when it is associated
    with any of them, and belongs in exactly one: :meth:`share_for`.
    """

    name: str
    access: Access
    principals: tuple[str, ...]
    statuses: frozenset[CardStatus]
    share_arns: tuple[str, ...]

    def share_for(self, card_arn: str) -> str:
        """The one share of this stage that a card belongs in: its slot.

        The slot is the SHA-256 of the card's ARN, lower-cased, modulo the number of shares: a
        stable function of the ARN alone, so the workflow and the reconciler agree on it in any
        process, and it spreads cards evenly over the shares. Lower-cased because SageMaker may
        report a card's ARN with its name in another case than an event spelled it. The slot
        never depends on how full a share is: a full share fails loudly instead of spilling over.
        Adding a share moves some cards to another slot; the planner moves them without a gap.
        """
        return self.share_arns[slot_of(card_arn, len(self.share_arns))]


def slot_of(card_arn: str, slots: int) -> int:
    """The slot (0 ≤ slot < ``slots``) of a card ARN: SHA-256 of the lower-cased ARN modulo ``slots``."""
    digest = hashlib.sha256(card_arn.lower().encode()).digest()
    return int.from_bytes(digest, "big") % slots


@dataclass(frozen=True)
class StageLadder:
    """All stages, in order. A card in status S belongs in every stage whose statuses include S."""

    stages: tuple[Stage, ...]

    def stages_for(self, status: CardStatus | None) -> tuple[Stage, ...]:
        """The stages a card in ``status`` must be shared with (none for a card that does not exist)."""
        if status is None:
            return ()
        return tuple(stage for stage in self.stages if status in stage.statuses)

    @property
    def share_arns(self) -> tuple[str, ...]:
        """Every share of every stage this ladder manages, in stage order, then slot order."""
        return tuple(share for stage in self.stages for share in stage.share_arns)

    def stage_for_share(self, share_arn: str) -> Stage:
        """The stage owning ``share_arn`` (any of its shares); ``KeyError`` if no stage owns it."""
        for stage in self.stages:
            if share_arn in stage.share_arns:
                return stage
        raise KeyError(share_arn)


def _split(value: object, field: str) -> list[str]:
    """Accept a comma-separated string or a list of strings; drop blanks (an empty parameter)."""
    if isinstance(value, str):
        items: Iterable[object] = value.split(",")
    elif isinstance(value, Sequence):
        items = value
    else:
        raise ConfigError(f"{field}: expected a list or a comma-separated string, got {type(value).__name__}")
    result = []
    for item in items:
        if not isinstance(item, str):
            raise ConfigError(f"{field}: expected strings, got {item!r}")
        if item.strip():
            result.append(item.strip())
    return result


def _principal(value: str, field: str, owner_account: str) -> str:
    if not (_ACCOUNT_ID.match(value) or _ORG_ARN.match(value) or _OU_ARN.match(value)):
        raise ConfigError(f"{field}: {value!r} is not a 12-digit account ID, an organization ARN or an OU ARN")
    if value == owner_account:
        raise ConfigError(
            f"{field}: {value} is the model-card account itself; it owns the cards and cannot be a principal"
        )
    return value


def _stage(raw: Mapping[str, object], index: int, owner_account: str) -> Stage:
    where = f"stages[{index}]"
    name = raw.get("name")
    if not isinstance(name, str) or not _STAGE_NAME.match(name):
        raise ConfigError(f"{where}.name: {name!r} is not a stage name (lower case letters, digits, '-')")
    where = f"stages[{index}] ({name})"
    access_raw = raw.get("access")
    if access_raw not in {a.value for a in Access}:
        allowed = ", ".join(a.value for a in Access)
        raise ConfigError(f"{where}.access: {access_raw!r} is not one of {allowed}")
    access = Access(str(access_raw))
    principals = tuple(
        _principal(p, f"{where}.principals", owner_account)
        for p in _split(raw.get("principals", []), f"{where}.principals")
    )
    statuses: set[CardStatus] = set()
    for value in _split(raw.get("statuses", []), f"{where}.statuses"):
        try:
            statuses.add(CardStatus.parse(value, f"{where}.statuses"))
        except ValueError as error:
            raise ConfigError(str(error)) from None
    return Stage(name, access, principals, frozenset(statuses), _share_arns(raw.get("shareArns"), where))


def _share_arns(value: object, where: str) -> tuple[str, ...]:
    field = f"{where}.shareArns"
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
        raise ConfigError(f"{field}: expected a non-empty list of RAM resource share ARNs, got {value!r}")
    for index, share_arn in enumerate(value):
        if not isinstance(share_arn, str) or not _SHARE_ARN.match(share_arn):
            raise ConfigError(f"{field}[{index}]: {share_arn!r} is not a RAM resource share ARN")
    return tuple(value)


def build_ladder(raw: Sequence[Mapping[str, object]], owner_account: str) -> StageLadder:
    """Validate raw stage definitions and build the ladder.

    Each item has ``name``, ``access`` (read-write | read-only), ``principals`` (account IDs or
    organization/OU ARNs), ``statuses`` (card statuses that grant the stage) and ``shareArns`` (the
    stage's RAM shares in slot order, at least one; see :meth:`Stage.share_for`).
    Raises :class:`ConfigError` naming the field for any invalid value.
    """
    if not _ACCOUNT_ID.match(owner_account):
        raise ConfigError(f"owner account: {owner_account!r} is not a 12-digit account ID")
    if isinstance(raw, (str, bytes)) or not isinstance(raw, Sequence) or not raw:
        raise ConfigError("stages: expected a non-empty list of stages")
    stages: list[Stage] = []
    for index, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise ConfigError(f"stages[{index}]: expected an object, got {type(item).__name__}")
        stages.append(_stage(item, index, owner_account))
    _check_unique(stages)
    return StageLadder(tuple(stages))


def _check_unique(stages: Sequence[Stage]) -> None:
    names: set[str] = set()
    shares: dict[str, str] = {}
    access_by_principal: dict[str, Stage] = {}
    for stage in stages:
        if stage.name in names:
            raise ConfigError(f"stages ({stage.name}).name: the stage name is used twice")
        names.add(stage.name)
        for share_arn in stage.share_arns:
            if share_arn in shares:
                raise ConfigError(
                    f"stages ({stage.name}).shareArns: {share_arn} is already used by stage {shares[share_arn]!r}; "
                    "RAM allows one permission per resource type per share, and a card has one slot per stage, "
                    "so every share belongs to exactly one stage, once"
                )
            shares[share_arn] = stage.name
        for principal in stage.principals:
            other = access_by_principal.get(principal)
            if other is not None and other.access != stage.access:
                raise ConfigError(
                    f"stages ({stage.name}).principals: {principal} is also in stage {other.name!r} "
                    f"with {other.access.value} access; one account cannot hold a card both "
                    f"{other.access.value} and {stage.access.value}"
                )
            access_by_principal.setdefault(principal, stage)


def ladder_from_json(text: str, owner_account: str) -> StageLadder:
    """Parse the ``CARDSHARE_STAGES`` JSON document and validate it."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"stages: not valid JSON ({error})") from None
    return build_ladder(raw, owner_account)
