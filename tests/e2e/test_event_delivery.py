"""Events as EventBridge really delivers them: twice, late, out of order, or malformed.

None of this is about approvals settling: stacks with an approval settle it after 2 s (EvidenceWaitSeconds).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from e2e_support import (
    Executions,
    assert_associations,
    assert_failed,
    assert_shared_per_ladder,
    assert_succeeded,
    client,
    ladder_stages,
    load_event,
    put_again,
    ram_rows,
    ram_tasks,
    reach,
    set_status,
    stack,
    start,
    walk,
)

from cardshare_local.extensions import lambda_inprocess
from cardshare_local.runtime import LocalAws

CARD = "Customer-Churn-Model-Card"


def plan_invocations(system: LocalAws) -> list[lambda_inprocess.Invocation]:
    """Every run of the plan function's handler since the stack was deployed."""
    function = system.stack.resources["PlanCardFunction"]
    return [i for i in lambda_inprocess.invocations() if i.function_name == function]


def test_duplicate_event_changes_nothing(system: LocalAws) -> None:
    arn = reach(system, CARD, "Draft", "PendingReview")
    watch = Executions(system, skip_existing=True)
    event = watch.last_input()
    assert event["detail"]["ModelCardStatus"] == "PendingReview"
    rows = ram_rows(system, arn)

    # EventBridge delivers at least once: the same event again on the bus, and the same input again.
    redeliveries: list[Callable[[LocalAws, dict[str, Any]], Any]] = [put_again, start]
    for redeliver in redeliveries:
        plans = len(plan_invocations(system))
        redeliver(system, event)

        [execution] = watch.new()
        assert_succeeded([execution], status="PendingReview")
        assert ram_tasks(system, execution) == [], redeliver  # no Associate or Disassociate call
        assert len(plan_invocations(system)) == plans + 1, redeliver  # one round: read card and RAM, done
        assert ram_rows(system, arn) == rows, redeliver  # the same rows, the same lastUpdatedTime
    assert_shared_per_ladder(system, arn, "PendingReview")


@stack()
def test_old_event_after_a_newer_status_is_a_no_op(system: LocalAws) -> None:
    arn = reach(system, CARD, "Draft", "PendingReview", "Approved")
    watch = Executions(system, skip_existing=True)
    draft_event = watch.inputs()[0]
    assert draft_event["detail"]["ModelCardStatus"] == "Draft"
    rows = ram_rows(system, arn)

    # EventBridge delivers the Draft event again, long after the card was approved.
    start(system, draft_event)

    [execution] = watch.new()
    assert_succeeded([execution], status="Approved")
    assert ram_tasks(system, execution) == []
    assert ram_rows(system, arn) == rows
    assert_shared_per_ladder(system, arn, "Approved")


@stack()
def test_late_event_converges_on_the_cards_status_not_the_events(system: LocalAws) -> None:
    events = client(system, "events")
    rule = system.stack.resources["CardStateChangeRule"]
    watch = Executions(system)

    def late(stale: dict[str, Any], now: str, added: set[str], removed: set[str]) -> None:
        """The card moves to ``now`` while events are held up; then ``stale`` finally arrives."""
        before = ladder_stages(system, stale["detail"]["ModelCardStatus"])
        events.disable_rule(Name=rule)  # nothing is delivered while the rule is off
        set_status(system, arn, now)
        assert watch.new() == []
        assert_associations(system, arn, before)
        events.enable_rule(Name=rule)

        start(system, stale)

        assert_succeeded(watch.new(), added=added, removed=removed, status=now)
        after = ladder_stages(system, now)
        assert (after - before, before - after) == (added, removed)
        assert_shared_per_ladder(system, arn, now)

    arn = walk(system, CARD, "Draft")
    watch.new()
    # Forward: a Draft event arrives after the card went to review; test gets it.
    late(watch.last_input(), "PendingReview", {"test"}, set())

    set_status(system, arn, "Approved")
    assert_succeeded(watch.new(), added={"prod"}, status="Approved")
    approval = watch.last_input()
    assert approval["detail"]["ModelCardStatus"] == "Approved"
    # Backward: an Approved event arrives after the card went back to Draft; test and prod lose it.
    late(approval, "Draft", set(), {"test", "prod"})


MALFORMED = {
    "malformed-missing-detail.json": "detail: missing or not an object",
    "malformed-unknown-status.json": "detail.ModelCardStatus: unknown model card status 'Published'",
}


def test_malformed_events_fail_without_touching_ram(system: LocalAws) -> None:
    arn = reach(system, CARD, "Draft", "PendingReview")
    watch = Executions(system, skip_existing=True)
    rows = ram_rows(system, arn)

    for file, field in MALFORMED.items():
        plans = len(plan_invocations(system))
        start(system, load_event(file, CARD))

        [execution] = watch.new()
        cause = assert_failed(execution, "InvalidEventError")
        assert cause["errorType"] == "InvalidEventError", file
        assert cause["errorMessage"].startswith(field), cause
        assert ram_tasks(system, execution) == [], file
        # Rejected once, never retried.
        assert [i.error_type for i in plan_invocations(system)[plans:]] == ["InvalidEventError"], file
        assert ram_rows(system, arn) == rows, file
    assert_shared_per_ladder(system, arn, "PendingReview")
