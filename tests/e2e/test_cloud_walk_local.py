"""The cloud suite's walk (tests/cloud) against the embedded AWS: the same steps, offline.

It proves the walk's waits, ladder checks, consumer checks, clean-up and both verdicts work on a
stack that behaves as documented; it cannot tell what real AWS does (that is ``make test-cloud``).
"""

from __future__ import annotations

import pytest
from cloud_support import CONTENT_EVENTS_SEEN, unique_card_name
from cloud_walk import CloudTarget
from e2e_support import APPROVER, LEAD, stack

from cardshare_cli.stack import Connection, open_stack
from cardshare_local.accounts import DEV_ACCOUNT, MODEL_CARD_ACCOUNT, PROD_ACCOUNT, TEST_ACCOUNT
from cardshare_local.extensions import sagemaker_cards
from cardshare_local.runtime import STACK_NAME, LocalAws


def local_target(system: LocalAws) -> CloudTarget:
    """The cloud suite's target on the embedded AWS: the CLI's view of the stack, local people and consumers."""
    return CloudTarget(
        stack=open_stack(Connection(stack_name=STACK_NAME)),
        owner=system.session(MODEL_CARD_ACCOUNT, LEAD),
        approver=system.session(MODEL_CARD_ACCOUNT, APPROVER),
        consumers={
            "dev": system.session(DEV_ACCOUNT, "ml-engineer"),
            "test": system.session(TEST_ACCOUNT, "ml-engineer"),
            "prod": system.session(PROD_ACCOUNT, "ml-engineer"),
        },
        interval=0.05,
        event_timeout=10.0,
    )


@stack()
def test_the_cloud_walk_passes_on_a_stack_that_behaves_as_documented(system: LocalAws) -> None:
    target = local_target(system)
    assert target.prod_permission_problems() == []

    # One card for both, to keep this short: the content edit first, while only its creation has
    # been processed (the embedded AWS emits events for content-only edits, README, Limits).
    arn = target.create(unique_card_name())
    target.wait_shared(arn, "Draft")
    assert target.content_edit_emits_event(arn) == (True, CONTENT_EVENTS_SEEN)

    target.walk(arn, ["Draft", "PendingReview", "Approved", "Archived"])
    assert system.associations(arn) == {"prod": "ASSOCIATED"}
    assert system.access(arn, PROD_ACCOUNT) == "read-only"

    # The other answer (README, Limits): no event for a content-only edit, reported with the setting to use.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sagemaker_cards, "EMIT_ON_CONTENT_CHANGE", False)
        target.event_timeout = 1.0
        seen, verdict = target.content_edit_emits_event(arn)
    assert not seen
    assert "ContentEditEvents=missing" in verdict

    target.delete(arn)
    assert system.associations(arn) == {}
    # Every execution the walk caused (consumers' edits included) ended well, none left running.
    executions = system.wait_idle()
    assert [e["status"] for e in executions] == ["SUCCEEDED"] * len(executions), [
        (e["name"], e["status"], e.get("error"), e.get("cause")) for e in executions if e["status"] != "SUCCEEDED"
    ]


@stack(ReadOnlyPermissionArn="arn:aws:ram::aws:permission/AWSRAMPermissionSageMakerModelCards", ShareSlots="1,2")
def test_the_permission_check_names_every_read_only_share_with_a_writable_permission(system: LocalAws) -> None:
    # The AWS managed permission allows UpdateModelCard: each of prod's two shares is reported, and
    # only those (dev and test are read-write by design).
    problems = local_target(system).prod_permission_problems()
    assert [problem.split(":", 1)[0] for problem in problems] == ["prod share 1", "prod share 2"]
    assert all("UpdateModelCard" in problem for problem in problems)
