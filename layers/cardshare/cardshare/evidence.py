"""Evidence about a card's history: facts that only grow, and merge the same way in any order.

A *sighting* says "the card was at version V in status S, last modified by A at time t". Every
state-change event and every DescribeModelCard read yields one (plus the card's creation: who
created it and when). Sightings are stored per card as a set of strings (DynamoDB ``ADD``), so
concurrent executions merge instead of racing, and a late or duplicate event adds nothing new.

What happened is then read from the set ordered by *when it happened*, never by when cardshare
processed it (:func:`changes`): a sighting at the same version with another status is a status
change by its actor; the first sighting of version V+1 in the status V had is the content edit
that created V+1; the same state seen again later was set again; anything else leaves a gap, and
a decision that needs what the gap hides waits for more evidence instead of guessing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from cardshare.identity import Actor
from cardshare.status import CardStatus

_SIGHTING = "s"
_CREATION = "c"
# Two sightings this close in time are one change: no person changes a card twice in 2 ms.
_SAME_CHANGE_MS = 2


@dataclass(frozen=True, order=True)
class Sighting:
    """The card at ``version`` in ``status``, last modified by ``actor`` at ``at`` (epoch milliseconds)."""

    at: int
    version: int
    status: CardStatus
    actor: Actor | None

    def encode(self) -> str:
        """The stored form: ``s|<at>|<version>|<status>|<actor>``."""
        actor = self.actor.encode() if self.actor else ""
        return f"{_SIGHTING}|{self.at}|{self.version}|{self.status.value}|{actor}"


@dataclass(frozen=True, order=True)
class Creation:
    """Who created the card, and when (epoch milliseconds)."""

    at: int
    actor: Actor

    def encode(self) -> str:
        """The stored form: ``c|<at>|<actor>``."""
        return f"{_CREATION}|{self.at}|{self.actor.encode()}"


class Kind(StrEnum):
    """What a change in the card's history was."""

    CREATE = "create"
    EDIT = "edit"
    STATUS = "status"
    GAP = "gap"


@dataclass(frozen=True)
class Change:
    """One step of the card's history as the evidence shows it.

    ``GAP`` means the change that led here was not seen: the actor is whoever was seen first at
    this version and status, not necessarily the person who made the version.
    """

    kind: Kind
    at: int
    version: int
    status: CardStatus
    actor: Actor | None


@dataclass(frozen=True)
class Evidence:
    """Everything cardshare has seen about one card."""

    sightings: frozenset[Sighting] = frozenset()
    creations: frozenset[Creation] = frozenset()

    def merged(self, other: Evidence) -> Evidence:
        """The union: the same whatever order evidence arrives in."""
        return Evidence(self.sightings | other.sightings, self.creations | other.creations)

    def encode(self) -> set[str]:
        """The stored form: one string per fact."""
        return {s.encode() for s in self.sightings} | {c.encode() for c in self.creations}

    @classmethod
    def decode(cls, items: Iterable[str]) -> Evidence:
        """Rebuild evidence from stored strings; malformed strings are skipped (they prove nothing)."""
        sightings: set[Sighting] = set()
        creations: set[Creation] = set()
        for item in items:
            fact = _decode(item)
            if isinstance(fact, Sighting):
                sightings.add(fact)
            elif isinstance(fact, Creation):
                creations.add(fact)
        return cls(frozenset(sightings), frozenset(creations))

    def since(self, created_at: int) -> Evidence:
        """Only the facts about the card created at ``created_at``.

        A card deleted and created again under the same name has the same ARN: what was seen of
        the earlier card (its reviews, its approvals) must not count for the new one.
        """
        return Evidence(
            frozenset(s for s in self.sightings if s.at >= created_at),
            frozenset(c for c in self.creations if c.at >= created_at),
        )

    @property
    def creators(self) -> frozenset[Actor]:
        """Who created the card (one person, unless reads disagree)."""
        return frozenset(c.actor for c in self.creations)


def _decode(item: str) -> Sighting | Creation | None:
    try:
        if item.startswith(_SIGHTING + "|"):
            _, at, version, status, actor = item.split("|", 4)
            return Sighting(int(at), int(version), CardStatus.parse(status), Actor.decode(actor) if actor else None)
        if item.startswith(_CREATION + "|"):
            _, at, actor = item.split("|", 2)
            return Creation(int(at), Actor.decode(actor))
    except ValueError:
        return None
    return None


def changes(evidence: Evidence) -> list[Change]:
    """The card's history as the evidence shows it, in the order things happened.

    Two sightings of one change (same modification time) collapse into one. A sighting older in
    version than one seen before it contradicts SageMaker's clock and is ignored.
    """
    created = min((c.at for c in evidence.creations), default=None)
    result: list[Change] = []
    previous: Sighting | None = None
    for sighting in sorted(evidence.sightings, key=lambda s: (s.at, s.version, s.status.value)):
        kind = _kind(previous, sighting, created)
        if kind is None:
            continue
        result.append(Change(kind, sighting.at, sighting.version, sighting.status, sighting.actor))
        previous = sighting
    return result


def _kind(previous: Sighting | None, sighting: Sighting, created: int | None) -> Kind | None:
    if previous is None:
        if sighting.version == 1 and created is not None:
            # Version 1 is the creation; any later change at version 1 is a status change.
            return Kind.CREATE if sighting.at <= created else Kind.STATUS
        return Kind.GAP
    if (sighting.version, sighting.status) == (previous.version, previous.status):
        # The same change seen twice has the same modification time (up to rounding: events carry
        # nanoseconds, reads milliseconds). A later time is the status set again by its actor
        # (an approver approving twice), perhaps after changes nobody has reported yet: those
        # arrive before the decision settles (see cardshare.approval).
        return None if sighting.at - previous.at <= _SAME_CHANGE_MS else Kind.STATUS
    if sighting.version == previous.version:
        return Kind.STATUS
    if sighting.version < previous.version:
        return None
    # A content edit creates exactly the next version and keeps the status.
    if sighting.version == previous.version + 1 and sighting.status == previous.status:
        return Kind.EDIT
    return Kind.GAP


@dataclass(frozen=True)
class Observation:
    """What one event or one card read says: the card's state and its creation."""

    version: int | None
    status: CardStatus | None
    modified_at: float | None
    modified_by: Actor | None
    created_at: float | None = None
    created_by: Actor | None = None


def facts(observation: Observation) -> Evidence:
    """The facts an observation proves (nothing for a part it does not carry)."""
    sightings: frozenset[Sighting] = frozenset()
    creations: frozenset[Creation] = frozenset()
    o = observation
    if o.version is not None and o.status is not None and o.modified_at is not None:
        sightings = frozenset({Sighting(to_ms(o.modified_at), o.version, o.status, o.modified_by)})
    if o.created_at is not None and o.created_by is not None:
        creations = frozenset({Creation(to_ms(o.created_at), o.created_by)})
    return Evidence(sightings, creations)


def to_ms(seconds: float) -> int:
    """Epoch seconds as whole milliseconds.

    Events carry nanoseconds and reads milliseconds, so facts compare at the precision both have
    (rounded to microseconds first, against float error).
    """
    return round(seconds * 1_000_000) // 1000
