"""The opt-in suite against a real stack (``make test-cloud``): the ladder as consumers see it, and the
two behaviours the README marks unconfirmed, each reported as a test result of its own.

Every card is named ``cardshare-cloud-test-<random>`` and deleted at the end, whatever happened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cloud_support import APPROVER_VARIABLE, unique_card_name
from cloud_walk import CloudTarget

pytestmark = pytest.mark.cloud

#: What one test saw that another reports on (the prod association reached by the approval walk).
OBSERVED: dict[str, Any] = {}


@pytest.fixture
def new_card(cloud_target: CloudTarget, record_property: Callable[[str, object], None]) -> Iterator[Callable[..., str]]:
    """Create uniquely named cards; every one is deleted, and unshared everywhere, when the test ends."""
    created: list[str] = []

    def create(status: str = "Draft") -> str:
        arn = cloud_target.create(unique_card_name(), status)
        created.append(arn)
        record_property("card", arn)
        return arn

    yield create
    for arn in created:
        cloud_target.delete(arn)


def test_draft_and_review_share_with_dev_and_test_read_write(cloud_target: CloudTarget, new_card: Any) -> None:
    arn = new_card("Draft")
    cloud_target.walk(arn, ["Draft", "PendingReview"])


def test_approval_by_another_person_shares_prod_read_only_then_archive_leaves_prod(
    cloud_target: CloudTarget, new_card: Any
) -> None:
    if cloud_target.approver is None:
        pytest.skip(f"set {APPROVER_VARIABLE}: a different person in the model-card account who may approve")
    arn = new_card("Draft")
    cloud_target.walk(arn, ["Draft", "PendingReview", "Approved"])
    OBSERVED["prod associated"] = True
    cloud_target.step(arn, "Archived")


def test_ram_accepts_the_stacks_read_only_permission_for_prod(cloud_target: CloudTarget) -> None:
    """Unconfirmed behaviour (1): RAM takes a customer managed permission for sagemaker:ModelCard."""
    problems = cloud_target.prod_permission_problems()
    assert not problems, (
        "a read-only stage's share permission is not usable: "
        + "; ".join(problems)
        + ". Deploy with ReadOnlyPermissionArn set to an existing read-only permission and keep the prod guard/SCP."
    )
    if "prod associated" not in OBSERVED:
        why = (
            "the approval walk failed or did not run in this session"
            if cloud_target.approver is not None
            else f"the approval walk needs {APPROVER_VARIABLE}"
        )
        pytest.skip(
            "the permission is customer managed and attached to the prod share; whether a card's prod association "
            f"reaches ASSOCIATED with it is unconfirmed: {why} (it runs first, in file order)"
        )


def test_content_only_edit_emits_a_state_change_event(
    cloud_target: CloudTarget, new_card: Any, record_property: Callable[[str, object], None]
) -> None:
    """Unconfirmed behaviour (2): a content-only UpdateModelCard starts the workflow. Missing → xfail."""
    arn = new_card("Draft")
    # Settled first, so the only execution that can follow is the edit's.
    cloud_target.wait_shared(arn, "Draft")
    seen, message = cloud_target.content_edit_emits_event(arn)
    record_property("content edit events", message)
    if not seen:
        pytest.xfail(message)
    print(message)
