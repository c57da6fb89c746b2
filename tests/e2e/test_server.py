"""`make serve`: the embedded AWS as an HTTP server on 127.0.0.1, driven with boto3 and endpoint_url."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from cardshare_local.accounts import MODEL_CARD_ACCOUNT, PROD_ACCOUNT, REGION, session_for
from cardshare_local.runtime import LocalAws
from cardshare_local.server import serving

CARD = "Demo-Card"
CONTENT = (
    '{"model_overview": {"model_owner": "me", "problem_type": "Regression"},'
    ' "intended_uses": {"intended_uses": "Forecasting"}}'
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def served() -> Iterator[tuple[str, LocalAws]]:
    """What `make serve` runs, minus its endless loop: (endpoint URL, deployed system)."""
    with serving(free_port()) as served:
        yield served


def wait_for(check: Any, timeout: float = 30.0) -> Any:
    """Poll ``check()`` until it returns something truthy (the server runs executions in threads)."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise TimeoutError("cardshare did not react in time")
        time.sleep(0.05)
    return result


def test_served_stack_shares_a_card_driven_over_http(served: tuple[str, LocalAws]) -> None:
    url, system = served
    # A person at a shell: plain keys, the endpoint URL, nothing else (like the README's commands).
    person = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
    sagemaker = person.client("sagemaker", endpoint_url=url)
    ram = person.client("ram", endpoint_url=url)
    sfn = person.client("stepfunctions", endpoint_url=url)
    approver = session_for(MODEL_CARD_ACCOUNT, "model-approver", endpoint_url=url).client("sagemaker", endpoint_url=url)
    shares = {arn: stage for stage, arn in system.share_arns.items()}

    def executions() -> list[dict[str, Any]]:
        listed = sfn.list_executions(stateMachineArn=system.state_machine_arn)["executions"]
        return [sfn.describe_execution(executionArn=e["executionArn"]) for e in listed]

    def settled(count: int) -> list[dict[str, Any]] | None:
        found = executions()
        return found if len(found) == count and all(e["status"] != "RUNNING" for e in found) else None

    def associated() -> dict[str, str]:
        rows = ram.get_resource_share_associations(associationType="RESOURCE", resourceArn=arn)
        return {shares[r["resourceShareArn"]]: r["status"] for r in rows["resourceShareAssociations"]}

    arn = sagemaker.create_model_card(ModelCardName=CARD, Content=CONTENT, ModelCardStatus="Draft")["ModelCardArn"]
    wait_for(lambda: settled(1))
    assert associated() == {"dev": "ASSOCIATED"}

    sagemaker.update_model_card(ModelCardName=CARD, ModelCardStatus="PendingReview")
    wait_for(lambda: settled(2))
    assert associated() == {"dev": "ASSOCIATED", "test": "ASSOCIATED"}

    approver.update_model_card(ModelCardName=CARD, ModelCardStatus="Approved")
    done = wait_for(lambda: settled(3))
    assert [e["status"] for e in done] == ["SUCCEEDED"] * 3, [(e["status"], e.get("cause")) for e in done]
    assert associated() == {"dev": "ASSOCIATED", "test": "ASSOCIATED", "prod": "ASSOCIATED"}

    # Prod reads the approved card by ARN over HTTP, and may not change it.
    prod = session_for(PROD_ACCOUNT, "prod-ml-engineer", endpoint_url=url).client("sagemaker", endpoint_url=url)
    assert prod.describe_model_card(ModelCardName=arn)["ModelCardStatus"] == "Approved"
    with pytest.raises(ClientError) as refused:
        prod.update_model_card(ModelCardName=arn, Content=CONTENT)
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
