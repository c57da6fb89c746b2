"""A simulated model-card account for governance tests: one card, RAM, the evidence store, executions.

Everything is in memory and keyed like AWS keys it (cards and evidence by the exact card ARN SageMaker
returns, associations by share ARN), so a round that used another spelling of the ARN would find
nothing. Time is a number of seconds the test advances by hand.

The people of the scenarios, with the facets SageMaker reports for them, are at the bottom.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cardshare.cards import Card
from cardshare.convergence import Limits, Progress
from cardshare.decisions import Outcome
from cardshare.events import DETAIL_TYPE, SOURCE
from cardshare.evidence import Evidence
from cardshare.gate_config import GateConfig
from cardshare.identity import Actor
from cardshare.planner import Association, AssociationStatus
from cardshare.policy import StageLadder, ladder_from_json
from cardshare.promotion import Ports, RoundResult, promote_round
from cardshare.settings import Settings
from cardshare.status import CardStatus

ACCOUNT, REGION = "123456789012", "us-east-1"
DEV, TEST, PROD = "111111111111", "222222222222", "333333333333"
CARD_NAME = "Customer-Churn-Model-Card"
CARD_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-card/{CARD_NAME}"
CONTENT: dict[str, Any] = {
    "model_overview": {"model_owner": "churn-team", "problem_type": "Binary Classification"},
    "intended_uses": {"intended_uses": "Predict churn"},
}
EPOCH = 1_790_000_000.0


def ladder(account: str = ACCOUNT) -> StageLadder:
    """The template's default ladder: dev ← Draft+, test ← PendingReview+, prod (read-only) ← Approved, Archived."""
    stages = [
        ("dev", "read-write", DEV, "Draft,PendingReview,Approved"),
        ("test", "read-write", TEST, "PendingReview,Approved"),
        ("prod", "read-only", PROD, "Approved,Archived"),
    ]
    raw = [
        {
            "name": name,
            "access": access,
            "principals": principal,
            "statuses": statuses,
            "shareArns": [f"arn:aws:ram:{REGION}:{account}:resource-share/{name}"],
        }
        for name, access, principal, statuses in stages
    ]
    return ladder_from_json(json.dumps(raw), account)


LADDER = ladder()
SHARE = {stage.name: stage.share_arns[0] for stage in LADDER.stages}
STAGE_OF = {arn: name for name, arn in SHARE.items()}


def settings(gates: GateConfig | None = None, wait: int = 10, quiet: int = 0, max_rounds: int = 5) -> Settings:
    """Settings with the default ladder; approvers from the model-card account unless ``gates`` says otherwise."""
    limits = Limits(poll_seconds=0, max_polls=3, max_rounds=max_rounds, quiet_seconds=quiet)
    config = gates or GateConfig(approver_accounts=frozenset({ACCOUNT}), evidence_wait_seconds=wait)
    return Settings(ACCOUNT, REGION, LADDER, limits, config, "ledger")


# ---- people ------------------------------------------------------------------------------------


def role_session(role: str, session: str, account: str = ACCOUNT, source_identity: str | None = None) -> Actor:
    """An IAM caller through an assumed role, as SageMaker reports it."""
    return Actor(
        principal=f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
        role=f"arn:aws:iam::{account}:role/{role}",
        session=session,
        source_identity=source_identity,
    )


def studio_user(profile: str, role: str = "StudioExecution", domain: str = "d-cardshare") -> Actor:
    """A Studio user: a user profile on the domain's shared execution role."""
    return Actor(
        principal=f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/SageMaker",
        role=f"arn:aws:iam::{ACCOUNT}:role/{role}",
        session="SageMaker",
        user_profile=f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:user-profile/{domain}/{profile}",
        domain=domain,
    )


ALICE = role_session("DataScientist", "alice")
ALICE_AGAIN = role_session("DataScientist", "alice-approving")
BOB = role_session("DataScientist", "bob", source_identity="bob")
JANE = role_session("ModelApprover", "jane")
KIM = role_session("ModelApprover", "kim", source_identity="kim")
CAROL = studio_user("carol")
DAVE = studio_user("dave")
STUDIO_ROLE = role_session("StudioExecution", "batch-job")
DEV_APPROVER = role_session("ModelApprover", "mallory", account=DEV)
PEOPLE: dict[str, Actor] = {
    "alice": ALICE,
    "alice-again": ALICE_AGAIN,
    "bob": BOB,
    "jane": JANE,
    "kim": KIM,
    "carol": CAROL,
    "dave": DAVE,
    "studio-role": STUDIO_ROLE,
    "dev-approver": DEV_APPROVER,
}


# ---- the card ----------------------------------------------------------------------------------


@dataclass
class CardState:
    """The card as SageMaker keeps it."""

    status: CardStatus
    version: int
    modified_at: float
    modified_by: Actor
    created_at: float
    created_by: Actor


@dataclass
class World:
    """One card, the stack's three shares, the card's evidence, and a clock."""

    now: float = EPOCH
    card: CardState | None = None
    arn: str = CARD_ARN
    content: dict[str, Any] = field(default_factory=lambda: dict(CONTENT))
    associations: dict[str, AssociationStatus] = field(default_factory=dict)
    evidence: dict[str, set[str]] = field(default_factory=dict)
    alerts: dict[str, set[str]] = field(default_factory=dict)
    evidence_down: bool = False
    prod_writable: bool = False
    ram_calls: list[tuple[str, str]] = field(default_factory=list)

    # -- what people do (each returns the state-change event SageMaker sends) --------------------

    def tick(self, seconds: float = 1.0) -> None:
        """Let time pass (in whole milliseconds, the precision SageMaker's clock has)."""
        self.now = round(self.now + seconds, 3)

    def create(self, actor: Actor, status: CardStatus = CardStatus.DRAFT) -> dict[str, Any]:
        """CreateModelCard."""
        self.card = CardState(status, 1, self.now, actor, self.now, actor)
        return self.event()

    def edit(self, actor: Actor) -> dict[str, Any]:
        """A content update: a new version in the same status."""
        card = self._card()
        card.version += 1
        card.modified_at, card.modified_by = self.now, actor
        return self.event()

    def set_status(self, actor: Actor, status: CardStatus) -> dict[str, Any]:
        """A status-only update: no new version."""
        card = self._card()
        card.status = status
        card.modified_at, card.modified_by = self.now, actor
        return self.event()

    def _card(self) -> CardState:
        assert self.card is not None, "create the card first"
        return self.card

    def event(self) -> dict[str, Any]:
        """The "SageMaker Model Card State Change" event for the card as it is now."""
        card = self._card()
        return {
            "version": "0",
            "id": f"evt-{card.version}-{card.status.value}-{card.modified_at}",
            "detail-type": DETAIL_TYPE,
            "source": SOURCE,
            "account": ACCOUNT,
            "time": _iso(card.modified_at),
            "region": REGION,
            "resources": [self.arn],
            "detail": {
                "ModelCardVersion": card.version,
                "LastModifiedTime": _iso(card.modified_at),
                "LastModifiedBy": _context(card.modified_by),
                "CreationTime": _iso(card.created_at),
                "CreatedBy": _context(card.created_by),
                "ModelCardName": self.arn.rsplit("/", 1)[-1],
                "ModelCardStatus": card.status.value,
                "AccountId": ACCOUNT,
                "SecurityConfig": {},
            },
        }

    # -- the ports a round uses ------------------------------------------------------------------

    def describe(self, card_arn: str) -> Card | None:
        """DescribeModelCard by ARN; SageMaker matches the card's name without case."""
        if self.card is None or card_arn.lower() != self.arn.lower():
            return None
        c = self.card
        return Card(
            self.arn,
            self.arn.rsplit("/", 1)[-1],
            c.status,
            c.version,
            self.content,
            c.created_by,
            c.modified_by,
            c.modified_at,
            c.created_at,
        )

    def shares_of(self) -> set[str]:
        """Stages that hold the card now (ASSOCIATED or ASSOCIATING)."""
        present = {AssociationStatus.ASSOCIATED, AssociationStatus.ASSOCIATING}
        return {STAGE_OF[arn] for arn, status in self.associations.items() if status in present}


class _Cards:
    def __init__(self, world: World) -> None:
        self.world = world

    def describe(self, card_arn: str) -> Card | None:
        return self.world.describe(card_arn)


class _Shares:
    def __init__(self, world: World) -> None:
        self.world = world

    def associations(self, card_arn: str, share_arns: Sequence[str]) -> list[Association]:
        # RAM keys associations by the exact resource ARN.
        if card_arn != self.world.arn:
            return []
        return [Association(arn, status) for arn, status in self.world.associations.items() if arn in share_arns]

    def grants_update(self, share_arn: str) -> bool:
        return self.world.prod_writable and share_arn == SHARE["prod"]


class _Evidence:
    def __init__(self, world: World) -> None:
        self.world = world

    def merge(self, card_arn: str, facts: Evidence) -> Evidence:
        from cardshare.evidence_store import EvidenceUnavailableError

        if self.world.evidence_down:
            raise EvidenceUnavailableError("table unreadable")
        stored = self.world.evidence.setdefault(card_arn, set())
        stored |= facts.encode()
        return Evidence.decode(stored)

    def claim_alert(self, card_arn: str, fingerprint: str) -> bool:
        claimed = self.world.alerts.setdefault(card_arn, set())
        first = fingerprint not in claimed
        claimed.add(fingerprint)
        return first

    def record(self, card_arn: str, facts: Evidence, claim: str | None) -> bool:
        """Facts and a claim in one write, as the store's UpdateItem makes them."""
        from cardshare.evidence_store import EvidenceUnavailableError

        if self.world.evidence_down:
            raise EvidenceUnavailableError("table unwritable")
        self.world.evidence.setdefault(card_arn, set()).update(facts.encode())
        return True if claim is None else self.claim_alert(card_arn, claim)


def ports(world: World) -> Ports:
    """The round's ports on the simulated world."""
    shares = _Shares(world)
    return Ports(_Cards(world), shares, _Evidence(world), shares)


# ---- executions --------------------------------------------------------------------------------


@dataclass
class Decided:
    """A decision some execution recorded, with when."""

    at: float
    outcome: Outcome
    record: dict[str, Any]
    revert: bool


@dataclass
class Execution:
    """One run of the workflow for one event, advanced a round at a time like the state machine."""

    world: World
    event: dict[str, Any]
    config: Settings
    name: str = "run"
    progress: Progress | None = None
    done: Decided | None = None
    rounds: list[RoundResult] = field(default_factory=list)

    def step(self) -> RoundResult:
        """One plan round, then what the workflow does with it (apply at once: RAM settles instantly)."""
        payload = {
            "event": self.event,
            "progress": self.progress.to_dict() if self.progress else None,
            "execution": f"arn:aws:states:{REGION}:{ACCOUNT}:execution:cardshare-promote-card:{self.name}",
        }
        now = datetime.fromtimestamp(self.world.now, UTC)
        result = promote_round(payload, self.config, ports(self.world), now)
        self.rounds.append(result)
        for action in result.step.actions:
            status = AssociationStatus.ASSOCIATED if action["op"] == "associate" else AssociationStatus.DISASSOCIATED
            self.world.associations[action["shareArn"]] = status
            self.world.ram_calls.append((action["op"], action["stage"]))
        self.progress = result.step.progress
        if result.decision is not None:
            self.done = Decided(self.world.now, result.decision.outcome, result.decision.record, result.decision.revert)
        return result

    def run(self, max_rounds: int = 200) -> Decided:
        """Rounds until the decision, advancing the clock by each wait."""
        for _ in range(max_rounds):
            result = self.step()
            if self.done is not None:
                return self.done
            self.world.tick(max(1, result.step.wait_seconds))
        raise AssertionError(f"no decision after {max_rounds} rounds")


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _context(actor: Actor) -> dict[str, Any]:
    """The UserContext SageMaker reports for ``actor``."""
    context: dict[str, Any] = {}
    iam: dict[str, Any] = {}
    if actor.principal:
        iam["Arn"] = actor.principal
    if actor.source_identity:
        iam["SourceIdentity"] = actor.source_identity
    if iam:
        context["IamIdentity"] = iam
    if actor.user_profile:
        context["UserProfileArn"] = actor.user_profile
        context["UserProfileName"] = actor.user_profile.rsplit("/", 1)[-1]
    if actor.domain:
        context["DomainId"] = actor.domain
    return context
