"""AWS calls per execution must not grow: a count, from the benchmark's own botocore hook (bench.calls).

The budgets are the counts measured when this test was last changed, with RAM settling after one
more poll (the local default) and no quiet period, so that no round depends on timing: with the
template's QuietSeconds the first round usually waits once more (3 calls: Invoke, DescribeModelCard,
UpdateItem), which the README's table includes. Calls are budgeted both ways: all of them, and, as
the performance issue counts, without Step Functions' Invokes of the plan function (its targets:
≤ 9 per promotion in this settling mode, ≤ 3 per no-op). Lower a budget whenever a change reaches
below it.
"""

from __future__ import annotations

import pytest

from bench.calls import install
from bench.driver import Driver
from bench.executions import promotion_and_duplicate
from cardshare_local.runtime import LocalAws

#: Calls per promotion (a card created in Draft, shared with dev) and per no-op (a duplicate event).
PROMOTION_BUDGET = 12
NO_OP_BUDGET = 5
#: The same without lambda:Invoke (the issue's way of counting).
PROMOTION_SERVICE_BUDGET = 9
NO_OP_SERVICE_BUDGET = 4
#: State transitions (states entered) per execution.
PROMOTION_TRANSITIONS = 14
NO_OP_TRANSITIONS = 4


@pytest.mark.parametrize("system", [{"QuietSeconds": "0"}], indirect=True)
def test_calls_per_promotion_and_per_no_op_stay_within_budget(system: LocalAws) -> None:
    install()
    promotion, no_op = promotion_and_duplicate(Driver(system), "Budget-Card")

    assert (promotion.executions, promotion.outcomes) == (1, ["shared"])
    assert (no_op.executions, no_op.outcomes) == (1, ["no-op"])
    assert promotion.total <= PROMOTION_BUDGET, promotion.calls
    assert no_op.total <= NO_OP_BUDGET, no_op.calls
    assert promotion.without_invoke <= PROMOTION_SERVICE_BUDGET, promotion.calls
    assert no_op.without_invoke <= NO_OP_SERVICE_BUDGET, no_op.calls
    assert promotion.transitions <= PROMOTION_TRANSITIONS
    assert no_op.transitions <= NO_OP_TRANSITIONS
    # The hook saw the system's own calls, not only the driver's: the workflow read and shared the card.
    assert promotion.calls["ram"]["AssociateResourceShare"] == 1
    assert promotion.calls["sagemaker"]["DescribeModelCard"] >= 1
