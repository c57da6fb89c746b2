"""A burst of legitimate approvals: 50 cards created and submitted, then approved, with no waits.

Every card must end with dev, test and prod (read-only); no decision may be ``blocked`` (a false
alarm) and no execution may take a share away on the way.
"""

from __future__ import annotations

from collections import Counter

import pytest
from e2e_support import Executions, card_arn, card_content, ram_tasks
from governance_support import ledger, person, received, subscribe

from cardshare_local.runtime import LocalAws

CARDS = 50


# The wait must outlast the time events take to reach the workflow. The embedded AWS runs one
# Lambda invocation at a time, so 150 executions at once on a busy test machine queue for longer
# than the local default; on AWS they would run side by side.
@pytest.mark.parametrize("system", [{"EvidenceWaitSeconds": "20"}], indirect=True)
def test_fifty_quick_legitimate_approvals_all_reach_prod_without_false_alarms(system: LocalAws) -> None:
    executions = Executions(system)
    alerts = subscribe(system, {"outcome": ["blocked"]})
    author = person(system, "DataScientist", "ds-1")
    approver = person(system, "ModelApprover", "jane")
    names = [f"Burst-Card-{index:03d}" for index in range(CARDS)]
    for name in names:
        author.create_model_card(ModelCardName=name, Content=card_content(), ModelCardStatus="Draft")
        author.update_model_card(ModelCardName=name, ModelCardStatus="PendingReview")
    # An approver approves what the console shows in review: each submission's event has reached
    # the workflow by then (the review rule's evidence). The approvals follow with no wait, while
    # the 100 executions before them are still queued.
    for name in names:
        approver.update_model_card(ModelCardName=name, ModelCardStatus="Approved")
    finished = executions.new(timeout=600)

    assert Counter(e["status"] for e in finished) == {"SUCCEEDED": 3 * CARDS}
    shared = {name: system.associations(card_arn(name)) for name in names}
    full = dict.fromkeys(["dev", "prod", "test"], "ASSOCIATED")
    assert [name for name, stages in shared.items() if stages != full] == []
    assert all(system.access(card_arn(name), "333333333333") == "read-only" for name in names)

    records = [r for name in names for r in ledger(system, card_arn(name))]
    refused = [
        (r["cardName"], r["outcome"], r.get("error"), [reason for gate in r["gates"] for reason in gate["reasons"]])
        for r in records
        if r["outcome"] in ("blocked", "failed")
    ]
    assert refused == []
    assert received(system, alerts) == []
    tasks = Counter(task for execution in finished for task in ram_tasks(system, execution))
    assert tasks["Disassociate"] == 0
    assert tasks["Associate"] >= 3 * CARDS
