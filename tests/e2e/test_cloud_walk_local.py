"""The cloud suite's walk (tests/cloud) against the embedded AWS: the same steps, offline.

It proves the walk's waits, ladder checks, consumer checks, clean-up and both verdicts work on a
stack that behaves as documented; it cannot tell what real AWS does (that is ``make test-cloud``).
"""

from __future__ import annotations

from cloud_support import CONTENT_EVENTS_SEEN, unique_card_name
from cloud_walk import CloudTarget
from e2e_support import APPROVER, LEAD, stack

from cardshare_cli.stack import Connection, open_stack
from cardshare_local.accounts import DEV_ACCOUNT, MODEL_CARD_ACCOUNT, PROD_ACCOUNT, TEST_ACCOUNT
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

    walked = target.create(unique_card_name())
    target.walk(walked, ["Draft", "PendingReview", "Approved", "Archived"])
    assert system.associations(walked) == {"prod": "ASSOCIATED"}

    # The embedded AWS emits state-change events for content-only edits (README, Limits).
    edited = target.create(unique_card_name())
    target.wait_shared(edited, "Draft")
    assert target.content_edit_emits_event(edited) == (True, CONTENT_EVENTS_SEEN)

    for arn in (walked, edited):
        target.delete(arn)
        assert system.associations(arn) == {}
