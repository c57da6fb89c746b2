"""The benchmark's reconciler scale run, on a fleet larger than one RAM share holds.

With RAM's quota lowered to 40 resources a share, 60 cards do not fit in one dev share: the run must
deploy enough share slots (as ``make bench`` does for 10,000 cards against the real 5,000) and still
find exactly the drift it made, with the naive checker's calls matching its formula.
"""

from __future__ import annotations

import pytest

from bench import reconciler_scale
from bench.calls import install
from bench.reconciler_scale import run_scale, share_slots
from cardshare_local.extensions import ram

CARDS = 60


def test_share_slots_keep_each_share_under_its_quota() -> None:
    assert share_slots(100) == "1"
    assert share_slots(4750) == "1"
    assert share_slots(4751) == "1,2"
    assert share_slots(10_000) == "1,2,3"


def test_the_scale_run_spreads_a_fleet_over_enough_shares(monkeypatch: pytest.MonkeyPatch) -> None:
    install()
    monkeypatch.setattr(ram, "RESOURCES_PER_SHARE", 40)
    monkeypatch.setattr(reconciler_scale, "CARDS_PER_SLOT", 20)

    results = run_scale([CARDS])

    runs = [(check.drift, check.found) for check in results if check.checker == "reconciler"]
    assert runs == [(0, 0), (1, 1)]  # card 7 (Approved) loses prod, and only that is found
    naive = next(check for check in results if check.checker == "naive")
    gated = CARDS // 2
    assert naive.total == CARDS * 3 + 1 + gated  # a read per card and stage, one list page, a Query per gated card
