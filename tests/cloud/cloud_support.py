"""Pure helpers of the cloud suite: configuration, the ladder's expectations, polling and verdicts.

Nothing here calls AWS: the walk (cloud_walk.py) feeds these the documents the APIs return, and
tests/unit/test_cloud_support.py feeds them fakes shaped the same way.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from cardshare.policy import StageLadder
from cardshare.settings import Settings
from cardshare.status import CardStatus

T = TypeVar("T")

STACK_VARIABLE = "AWS_SAM_STACK_NAME"
#: The deployed stack's stages when they are not the template's default ``dev,test,prod``.
STAGES_VARIABLE = "CARDSHARE_CLOUD_STAGES"
DEFAULT_STAGES = "dev,test,prod"
APPROVER_VARIABLE = "CARDSHARE_APPROVER_PROFILE"
CARD_PREFIX = "cardshare-cloud-test-"
#: How a consumer's call is refused when its account may not do it (SageMaker's code for a denied call).
DENIED = "AccessDeniedException"
#: A card that is not shared with an account may also look absent to it.
NOT_SHARED = frozenset({DENIED, "ResourceNotFound", "ResourceNotFoundException"})
_ASSOCIATED = "ASSOCIATED"


@dataclass(frozen=True)
class CloudConfig:
    """Where the real stack is and who acts on it, from the environment."""

    stack_name: str
    consumer_profiles: Mapping[str, str]
    approver_profile: str | None
    model_card_profile: str | None


def consumer_variables(environ: Mapping[str, str]) -> dict[str, str]:
    """Stage → the variable naming its consumer account's profile (``CARDSHARE_<STAGE>_PROFILE``)."""
    stages = (environ.get(STAGES_VARIABLE) or DEFAULT_STAGES).split(",")
    return {stage.strip(): f"CARDSHARE_{stage.strip().upper()}_PROFILE" for stage in stages if stage.strip()}


def missing_variables(environ: Mapping[str, str]) -> list[str]:
    """The variables the suite needs that are unset or empty, in the order the README lists them."""
    needed = [STACK_VARIABLE, *consumer_variables(environ).values()]
    return [name for name in needed if not environ.get(name)]


def read_config(environ: Mapping[str, str]) -> CloudConfig:
    """The configuration; call only when :func:`missing_variables` is empty."""
    return CloudConfig(
        stack_name=environ[STACK_VARIABLE],
        consumer_profiles={stage: environ[name] for stage, name in consumer_variables(environ).items()},
        approver_profile=environ.get(APPROVER_VARIABLE) or None,
        model_card_profile=environ.get("AWS_PROFILE") or None,
    )


def skip_reason(environ: Mapping[str, str], selected: bool) -> str | None:
    """Why the cloud suite does not run here, or None when it runs.

    ``selected``: the run asked for the cloud marker (``make test-cloud``). Without it the suite
    never runs, even when configured, so ``make test`` cannot reach a real account by accident.
    """
    missing = missing_variables(environ)
    needs = f"set {', '.join(missing)} (see README, Testing against real accounts)" if missing else ""
    if not selected:
        return "cloud suite: opt-in, run `make test-cloud` (pytest -m cloud tests/cloud)" + (
            f" and {needs}" if needs else ""
        )
    if missing:
        return f"cloud suite: {needs}"
    return None


def selects_cloud(markexpr: str) -> bool:
    """Whether ``-m`` names the cloud marker and selects a test that carries it."""
    if "cloud" not in markexpr:
        return False
    from _pytest.mark.expression import Expression  # pytest's own -m parser

    return bool(Expression.compile(markexpr).evaluate(lambda name, **_: name == "cloud"))


def unique_card_name(suffix: str | None = None) -> str:
    """A card name no other run uses (SageMaker names: letters, digits, hyphens, up to 63)."""
    return CARD_PREFIX + (suffix if suffix is not None else secrets.token_hex(6))


def card_content(required_fields: Iterable[str]) -> str:
    """Content that passes the review gate: the e2e card, plus a value for any other required field.

    The base fields follow SageMaker's model card schema; an extra required field is filled with a
    string, which its schema may refuse (CreateModelCard then names the field).
    """
    content: dict[str, Any] = {
        "model_overview": {
            "model_owner": "cardshare-cloud-test",
            "problem_type": "Binary Classification",
            "model_description": "Created by the cardshare cloud suite; deleted when it ends.",
        },
        "intended_uses": {"intended_uses": "Testing cardshare's sharing.", "risk_rating": "Low"},
    }
    for dotted in required_fields:
        node = content
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node.setdefault(leaf, "cardshare cloud test")
    return json.dumps(content)


def edited(content: str, description: str) -> str:
    """The card's content (a JSON document) with ``description`` as the model's description."""
    document = json.loads(content)
    document.setdefault("model_overview", {})["model_description"] = description
    return json.dumps(document)


def expected_shares(ladder: StageLadder, status: str | None, card_arn: str) -> dict[str, str]:
    """Share ARN → ASSOCIATED for the card's own share of each stage the ladder gives ``status`` (None: deleted)."""
    stages = ladder.stages_for(CardStatus(status) if status else None)
    return {stage.share_for(card_arn): _ASSOCIATED for stage in stages}


def expected_access(ladder: StageLadder, status: str | None) -> dict[str, str]:
    """Stage name → read-write | read-only | none for a card in ``status``."""
    granted = {stage.name for stage in ladder.stages_for(CardStatus(status) if status else None)}
    return {stage.name: stage.access.value if stage.name in granted else "none" for stage in ladder.stages}


def current_shares(rows: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Share ARN → association status from GetResourceShareAssociations rows, DISASSOCIATED left out.

    RAM keeps a row per share (a re-association updates it); where two rows name one share the
    newest (lastUpdatedTime) wins.
    """
    newest: dict[str, Mapping[str, Any]] = {}
    for row in rows:
        share = str(row["resourceShareArn"])
        if share not in newest or _updated(row) >= _updated(newest[share]):
            newest[share] = row
    return {share: str(row["status"]) for share, row in newest.items() if row["status"] != "DISASSOCIATED"}


def _updated(row: Mapping[str, Any]) -> float:
    value = row.get("lastUpdatedTime")
    if value is None:
        return 0.0
    return float(value.timestamp()) if hasattr(value, "timestamp") else float(value)


def settle_timeout(settings: Settings, margin: float = 60.0) -> float:
    """How long a change may take to show in RAM: the settling waits, RAM's polls, and a margin.

    The approval waits EvidenceWaitSeconds for late events after QuietSeconds of quiet; the
    workflow then polls RAM PollIntervalSeconds x MaxPolls; the margin covers event delivery.
    """
    limits = settings.limits
    return float(
        settings.gates.evidence_wait_seconds + limits.quiet_seconds + limits.poll_seconds * limits.max_polls + margin
    )


class WaitTimeout(AssertionError):
    """A poll ran out of time; the message carries the last value seen."""


def poll(
    probe: Callable[[], T],
    done: Callable[[T], bool],
    *,
    timeout: float,
    interval: float,
    what: str,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``probe`` until ``done`` holds for its value; raise :class:`WaitTimeout` after ``timeout``.

    The probe runs at least once, and once more at the deadline, so a slow probe cannot miss it.
    """
    deadline = clock() + timeout
    while True:
        value = probe()
        if done(value):
            return value
        if clock() >= deadline:
            raise WaitTimeout(f"{what}: not reached after {timeout:.0f}s; last seen {value!r}")
        sleep(min(interval, max(0.0, deadline - clock())))


def names_card(execution_input: str, card_arn: str) -> bool:
    """Whether a workflow execution's input (an EventBridge event) is about ``card_arn``.

    SageMaker may change the case of names in ARNs, so ARNs and names compare without case.
    """
    try:
        event = json.loads(execution_input)
    except ValueError:
        return False
    if not isinstance(event, dict):
        return False
    wanted = card_arn.lower()
    name = wanted.rsplit("/", 1)[-1]
    if any(str(resource).lower() == wanted for resource in event.get("resources") or []):
        return True
    detail = event.get("detail")
    return isinstance(detail, dict) and str(detail.get("ModelCardName", "")).lower() == name


def new_executions(listed: Iterable[Mapping[str, Any]], seen: Iterable[str]) -> list[str]:
    """ARNs of ListExecutions rows not in ``seen``, oldest first."""
    known = set(seen)
    rows = sorted((row for row in listed if row["executionArn"] not in known), key=lambda row: row["startDate"])
    return [str(row["executionArn"]) for row in rows]


def permission_problems(
    permissions: Sequence[Mapping[str, Any]], expected_arn: str, *, created_by_stack: bool, grants_update: bool
) -> list[str]:
    """What is wrong with a read-only share's permission, from ListResourceSharePermissions rows (none: fine).

    ``created_by_stack``: the stack made its read-only permission (ReadOnlyPermissionArn empty), so it must
    be customer managed; ``grants_update``: the share's permission allows sagemaker:UpdateModelCard.
    """
    row = next((p for p in permissions if p.get("arn") == expected_arn), None)
    if row is None:
        listed = sorted(str(p.get("arn")) for p in permissions)
        return [f"the share does not list the stack's permission {expected_arn} (it lists {listed})"]
    problems = []
    if created_by_stack and row.get("permissionType") != "CUSTOMER_MANAGED":
        problems.append(f"permissionType is {row.get('permissionType')!r}, not CUSTOMER_MANAGED")
    if str(row.get("status", "")).upper() in {"UNATTACHABLE", "DELETING", "DELETED"}:
        problems.append(f"permission status is {row.get('status')!r}")
    if grants_update:
        problems.append("its permission allows sagemaker:UpdateModelCard: the stage would be read-write")
    return problems


def consumer_fits(access: str, outcome: tuple[str, str], writes: bool) -> bool:
    """Whether a consumer's (read, write) outcome is what ``access`` allows."""
    read, write = outcome
    if access == "read-write":
        return (read, write) == ("ok", "ok" if writes else "skipped")
    if access == "read-only":
        return (read, write) == ("ok", DENIED)
    return read in NOT_SHARED


CONTENT_EVENTS_SEEN = "content-only edits emit the state-change event in this account: keep ContentEditEvents=emitted"


def content_edit_message(seen: bool, waited: float) -> str:
    """The verdict on content-only edits, telling which ContentEditEvents setting fits the account."""
    if seen:
        return CONTENT_EVENTS_SEEN
    return (
        f"no workflow execution named the card within {waited:.0f}s of a content-only UpdateModelCard: "
        "this account does not appear to emit state-change events for content edits; deploy with "
        "ContentEditEvents=missing (see README, Limits: Content-only edits)"
    )
