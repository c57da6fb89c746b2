"""RAM misbehaving: throttling is retried, a FAILED association fails the execution with RAM's reason."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from e2e_support import (
    Executions,
    assert_consumers,
    assert_failed,
    assert_shared_per_ladder,
    assert_succeeded,
    card_content,
    client,
    ram_tasks,
    sagemaker,
    start,
)

from cardshare_local.accounts import DEV_ACCOUNT, PROD_ACCOUNT, TEST_ACCOUNT
from cardshare_local.extensions import ram
from cardshare_local.runtime import LocalAws

CARD = "Customer-Churn-Model-Card"


@pytest.fixture(autouse=True)
def _no_leftover_faults() -> Iterator[None]:
    yield
    ram.reset_faults()


def task_failures(system: LocalAws, execution_arn: str) -> list[str]:
    """The errors of the failed task attempts in an execution's history (retried or not)."""
    history = client(system, "stepfunctions").get_execution_history(executionArn=execution_arn, maxResults=1000)
    return [e["taskFailedEventDetails"]["error"] for e in history["events"] if e["type"] == "TaskFailed"]


def test_throttled_ram_is_retried_and_the_card_still_converges(system: LocalAws) -> None:
    watch = Executions(system)
    ram.inject_error("AssociateResourceShare", "ThrottlingException", times=2)

    # Sleeps for real: Step Functions' retry intervals (1 s, x2, full jitter) cannot be shortened.
    arn = sagemaker(system).create_model_card(ModelCardName=CARD, Content=card_content(), ModelCardStatus="Draft")[
        "ModelCardArn"
    ]

    [execution] = watch.new()
    assert_succeeded([execution], added={"dev"}, status="Draft")
    assert task_failures(system, execution["executionArn"]) == ["Ram.ThrottlingException"] * 2
    assert ram_tasks(system, execution) == ["Associate"]  # one state, retried inside it
    assert_shared_per_ladder(system, arn, "Draft")


def test_failed_association_fails_the_execution_with_rams_message(system: LocalAws) -> None:
    watch = Executions(system)
    reason = "The resource policy of the model card could not be updated (injected)"
    ram.fail_next_association(reason)

    arn = sagemaker(system).create_model_card(ModelCardName=CARD, Content=card_content(), ModelCardStatus="Draft")[
        "ModelCardArn"
    ]

    [execution] = watch.new()
    cause = assert_failed(execution, "AssociationFailedError")
    assert reason in execution["cause"]
    assert cause["errorType"] == "AssociationFailedError"
    assert "dev" in cause["errorMessage"], cause
    assert reason in cause["errorMessage"], cause
    assert ram_tasks(system, execution) == ["Associate"]
    assert system.associations(arn) == {"dev": "FAILED"}
    assert_consumers(system, arn, {DEV_ACCOUNT: "none", TEST_ACCOUNT: "none", PROD_ACCOUNT: "none"})

    # The next event for the card tries again and converges (the injected failure was one-off).
    start(system, watch.inputs()[-1])
    assert_succeeded(watch.new(), added={"dev"}, status="Draft")
    assert_shared_per_ladder(system, arn, "Draft")
