"""The approval rule computed directly from a card's true history, independently of evidence inference.

The product infers what happened (content edit or status change, who authored a version) from
sightings ordered by time. This oracle knows what happened, because it replays the operations
themselves, and applies the README's rule to them. Tests compare the two.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from governance_world import ACCOUNT, LADDER, PEOPLE

from cardshare.identity import Actor
from cardshare.status import CardStatus

# Who is the same person as whom, written out by hand from the README's identity table (not
# computed by the product's rule): a session name never tells people apart; a Studio user profile
# or a SourceIdentity does, unless the other side carries neither on the same role.
_SAME_PERSON = {
    frozenset(pair)
    for pair in [
        ("alice", "alice-again"),  # same role, another session name
        ("alice", "bob"),  # same role; alice carries neither profile nor source identity
        ("alice-again", "bob"),
        ("jane", "kim"),  # same role; jane carries neither
        ("carol", "studio-role"),  # the execution role outside Studio carries no profile
        ("dave", "studio-role"),
    ]
}
_NAME = {actor: name for name, actor in PEOPLE.items()}


def same_person(a: Actor, b: Actor) -> bool:
    """Ground truth for the people of :data:`governance_world.PEOPLE` (carol and dave differ)."""
    return a == b or frozenset((_NAME[a], _NAME[b])) in _SAME_PERSON


@dataclass(frozen=True)
class Op:
    """One thing a person did to the card: create, edit (content) or status."""

    kind: str
    actor: Actor
    status: CardStatus | None = None

    def __repr__(self) -> str:
        """Short enough to read a falsifying example."""
        status = f" {self.status.value}" if self.status else ""
        return f"{self.kind}({_NAME.get(self.actor, self.actor.label)}{status})"


@dataclass
class _Version:
    authors: list[Actor] = field(default_factory=list)
    reviewed: bool = False
    valid_approvals: int = 0


@dataclass
class Truth:
    """What the rule says about the card after a sequence of operations."""

    status: CardStatus | None = None
    version: int = 0
    versions: dict[int, _Version] = field(default_factory=dict)
    current_approval_valid: bool | None = None
    """For an Approved card: whether the change that approved the current version passes the rule
    (None when the status was carried into this version by a content edit: a stale approval)."""
    ever_reviewed: bool = False

    def apply(self, op: Op) -> None:
        """Replay one operation."""
        if op.kind == "create":
            self.version, self.status = 1, op.status
            self.versions[1] = _Version(authors=[op.actor])
            self.current_approval_valid = False if op.status is CardStatus.APPROVED else None
        elif op.kind == "edit":
            self.version += 1
            self.versions[self.version] = _Version(authors=[op.actor])
            self.current_approval_valid = None
        else:
            assert op.status is not None
            self.status = op.status
            if op.status is CardStatus.APPROVED:
                valid = self._valid(op.actor)
                self.current_approval_valid = valid
                self.versions[self.version].valid_approvals += int(valid)
            elif op.status is CardStatus.PENDING_REVIEW:
                # Whoever submits a version is one of its authors.
                self.versions[self.version].authors.append(op.actor)
        if self.status is CardStatus.PENDING_REVIEW:
            self.versions[self.version].reviewed = True
            self.ever_reviewed = True

    def _valid(self, approver: Actor) -> bool:
        version = self.versions[self.version]
        return (
            version.reviewed
            and approver.account == ACCOUNT
            and not any(same_person(approver, author) for author in version.authors)
        )

    @property
    def shares(self) -> set[str]:
        """The stages the rule lets hold the card."""
        earned: CardStatus | None = self.status
        if self.status is CardStatus.APPROVED and not self.current_approval_valid:
            earned = CardStatus.PENDING_REVIEW if self.ever_reviewed else CardStatus.DRAFT
        if self.status is CardStatus.ARCHIVED and not self.versions[self.version].valid_approvals:
            return set()
        return {stage.name for stage in LADDER.stages_for(earned)}

    @property
    def blocked(self) -> bool:
        """Whether the rule refuses the card's current approval."""
        return self.status is CardStatus.APPROVED and not self.current_approval_valid


def truth(ops: list[Op]) -> Truth:
    """The rule's answer after ``ops``."""
    result = Truth()
    for op in ops:
        result.apply(op)
    return result
