"""Evidence: facts that only grow, merge the same way in any order, and read back as a history."""

from __future__ import annotations

import pytest
from governance_world import ALICE, JANE
from hypothesis import given
from hypothesis import strategies as st

from cardshare.evidence import Change, Creation, Evidence, Kind, Observation, Sighting, changes, facts, to_ms
from cardshare.status import CardStatus

D, P, A = CardStatus.DRAFT, CardStatus.PENDING_REVIEW, CardStatus.APPROVED


def seen(at: int, version: int, status: CardStatus, actor: object = ALICE) -> Sighting:
    return Sighting(at, version, status, actor)  # type: ignore[arg-type]


def created(at: int = 0) -> Creation:
    return Creation(at, ALICE)


def kinds(evidence: Evidence) -> list[tuple[Kind, int, CardStatus]]:
    return [(c.kind, c.version, c.status) for c in changes(evidence)]


def test_a_lifecycle_reads_back_as_creation_edits_and_status_changes() -> None:
    evidence = Evidence(
        frozenset({seen(0, 1, D), seen(10, 2, D), seen(20, 2, P), seen(30, 2, A, JANE)}), frozenset({created()})
    )
    assert kinds(evidence) == [(Kind.CREATE, 1, D), (Kind.EDIT, 2, D), (Kind.STATUS, 2, P), (Kind.STATUS, 2, A)]
    assert changes(evidence)[-1].actor == JANE


def test_the_same_change_seen_twice_is_one_change() -> None:
    # An event (nanoseconds) and a read (milliseconds) of one change may differ by a millisecond.
    evidence = Evidence(frozenset({seen(0, 1, D), seen(20, 1, P), seen(21, 1, P)}), frozenset({created()}))
    assert kinds(evidence) == [(Kind.CREATE, 1, D), (Kind.STATUS, 1, P)]


def test_the_same_state_seen_again_later_was_set_again_by_its_actor() -> None:
    # Approved at 30, then Approved again at 60: set again (perhaps after unreported changes, which
    # arrive before an approval settles): the later actor is the one who approved last.
    evidence = Evidence(frozenset({seen(0, 1, P), seen(30, 1, A, JANE), seen(60, 1, A, ALICE)}), frozenset({created()}))
    assert kinds(evidence)[-1] == (Kind.STATUS, 1, A)
    assert changes(evidence)[-1].actor == ALICE


@pytest.mark.parametrize(
    ("sightings", "last"),
    [
        # A new version in another status: the edit that made it was not seen.
        ([seen(0, 1, D), seen(10, 2, P)], (Kind.GAP, 2, P)),
        # Two versions ahead: an edit in between was not seen.
        ([seen(0, 1, D), seen(10, 3, D)], (Kind.GAP, 3, D)),
        # The first thing seen of a card is a later version: how it got there is unknown.
        ([seen(10, 4, A)], (Kind.GAP, 4, A)),
    ],
)
def test_gaps(sightings: list[Sighting], last: tuple[Kind, int, CardStatus]) -> None:
    assert kinds(Evidence(frozenset(sightings), frozenset({created()})))[-1] == last


def test_version_one_after_its_creation_is_a_status_change() -> None:
    evidence = Evidence(frozenset({seen(5, 1, P)}), frozenset({created(0)}))
    assert kinds(evidence) == [(Kind.STATUS, 1, P)]


def test_a_sighting_older_in_version_than_the_one_before_is_ignored() -> None:
    evidence = Evidence(frozenset({seen(0, 1, D), seen(10, 2, D), seen(20, 1, P)}), frozenset({created()}))
    assert kinds(evidence) == [(Kind.CREATE, 1, D), (Kind.EDIT, 2, D)]


def test_since_keeps_only_the_current_card() -> None:
    # A card deleted and created again under the same name has the same ARN.
    old = Evidence(frozenset({seen(0, 1, P), seen(5, 1, A, JANE)}), frozenset({created(0)}))
    new = Evidence(frozenset({seen(100, 1, D)}), frozenset({Creation(100, JANE)}))
    both = old.merged(new).since(100)
    assert both == new
    assert both.creators == frozenset({JANE})


sightings = st.builds(
    Sighting,
    st.integers(0, 10**13),
    st.integers(1, 50),
    st.sampled_from(list(CardStatus)),
    st.sampled_from([ALICE, JANE, None]),
)
evidence = st.builds(
    Evidence,
    st.frozensets(sightings, max_size=6),
    st.frozensets(st.builds(Creation, st.integers(0, 10**13), st.sampled_from([ALICE, JANE])), max_size=2),
)


@given(evidence, evidence, evidence)
def test_merging_is_order_free_and_idempotent(a: Evidence, b: Evidence, c: Evidence) -> None:
    assert a.merged(b) == b.merged(a)
    assert a.merged(b).merged(c) == a.merged(b.merged(c))
    assert a.merged(a) == a


@given(evidence)
def test_the_stored_form_round_trips(e: Evidence) -> None:
    assert Evidence.decode(e.encode()) == e


def test_malformed_stored_facts_prove_nothing() -> None:
    good = seen(1, 1, D).encode()
    decoded = Evidence.decode([good, "s|x|1|Draft|", "s|1|1|Bogus|", "c|1|not json", "z|1", ""])
    assert decoded == Evidence(frozenset({seen(1, 1, D)}))


def test_facts_of_an_observation() -> None:
    observed = facts(Observation(2, P, 1_790_000_000.1234, ALICE, 1_789_999_000.0, JANE))
    assert observed == Evidence(
        frozenset({Sighting(1_790_000_000_123, 2, P, ALICE)}), frozenset({Creation(1_789_999_000_000, JANE)})
    )
    # A reconciler event proves nothing: no version, status or time.
    assert facts(Observation(None, None, None, None)) == Evidence()


@pytest.mark.parametrize(
    ("seconds", "ms"),
    [(1_790_000_000.005, 1_790_000_000_005), (1_790_000_000.0054, 1_790_000_000_005), (0.0, 0)],
)
def test_to_ms_truncates_to_whole_milliseconds(seconds: float, ms: int) -> None:
    assert to_ms(seconds) == ms


def test_change_records_who() -> None:
    [change] = changes(Evidence(frozenset({seen(0, 1, D, JANE)}), frozenset({created()})))
    assert change == Change(Kind.CREATE, 0, 1, D, JANE)
