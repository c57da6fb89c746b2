"""The local deploy registers its stack with CloudFormation: `aws cloudformation describe-stacks` works.

The resources are created by the local deployer; CloudFormation only records the stack (its
parameters and resolved outputs), so nothing is created a second time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jmespath
import pytest
from botocore.exceptions import ClientError
from template_loader import load_template

from cardshare_local.accounts import DEV_ACCOUNT, MODEL_CARD_ACCOUNT, REGION
from cardshare_local.runtime import STACK_NAME, LocalAws, local_aws

TEMPLATE = load_template()
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]


@pytest.fixture(scope="module")
def system() -> Iterator[LocalAws]:
    with local_aws() as deployed:
        yield deployed


def describe(system: LocalAws, account: str = MODEL_CARD_ACCOUNT) -> dict[str, Any]:
    response = system.session(account).client("cloudformation").describe_stacks(StackName=STACK_NAME)
    (stack,) = response["Stacks"]
    return dict(stack)


def of_type(system: LocalAws, resource_type: str) -> set[str]:
    """Physical IDs the deploy recorded for the template's resources of ``resource_type``."""
    return {str(system.stack.resources[n]) for n, r in RESOURCES.items() if r["Type"] == resource_type}


def test_describe_stacks_lists_every_output_the_deploy_resolved(system: LocalAws) -> None:
    stack = describe(system)

    assert stack["StackName"] == STACK_NAME
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert stack["StackId"].startswith(f"arn:aws:cloudformation:{REGION}:{MODEL_CARD_ACCOUNT}:stack/{STACK_NAME}/")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs == {name: str(value) for name, value in system.stack.outputs.items()}
    assert set(outputs) == set(TEMPLATE["Outputs"])  # every output of the template: none has a condition
    assert outputs["PromoteCardStateMachineArn"] == system.state_machine_arn
    assert outputs["DecisionLedgerTableName"] == system.stack.resources["DecisionLedgerTable"]


def test_the_parameters_are_the_deployed_ones(system: LocalAws) -> None:
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in describe(system)["Parameters"]}

    assert set(parameters) == set(TEMPLATE["Parameters"])
    for name, value in system.stack.parameters.items():
        assert parameters[name] == (",".join(value) if isinstance(value, list) else value), name


def test_the_readmes_redrive_queries_find_the_queue_and_the_workflow(system: LocalAws) -> None:
    response = system.session().client("cloudformation").describe_stacks(StackName=STACK_NAME)
    query = "Stacks[0].Outputs[?OutputKey=='{}'].OutputValue"

    (dlq,) = jmespath.search(query.format("CardEventsDeadLetterQueueUrl"), response)
    (machine,) = jmespath.search(query.format("PromoteCardStateMachineArn"), response)

    queue_name = system.stack.resources["CardEventsDeadLetterQueue"].rsplit("/", 1)[-1]
    assert dlq == system.session().client("sqs").get_queue_url(QueueName=queue_name)["QueueUrl"]
    assert machine == system.state_machine_arn


def test_registering_creates_no_resource_a_second_time(system: LocalAws) -> None:
    session = system.session()
    cloudformation = session.client("cloudformation")

    assert cloudformation.list_stack_resources(StackName=STACK_NAME)["StackResourceSummaries"] == []
    machines = session.client("stepfunctions").list_state_machines()["stateMachines"]
    assert {m["stateMachineArn"] for m in machines} == of_type(system, "AWS::Serverless::StateMachine")
    functions = session.client("lambda").list_functions()["Functions"]
    assert {f["FunctionName"] for f in functions} == of_type(system, "AWS::Serverless::Function")
    assert set(session.client("dynamodb").list_tables()["TableNames"]) == of_type(system, "AWS::DynamoDB::Table")
    topics = session.client("sns").list_topics()["Topics"]
    assert {t["TopicArn"] for t in topics} == of_type(system, "AWS::SNS::Topic")
    queues = session.client("sqs").list_queues().get("QueueUrls", [])
    assert set(queues) == of_type(system, "AWS::SQS::Queue")
    assert [s["StackName"] for s in cloudformation.list_stacks()["StackSummaries"]] == [STACK_NAME]


def test_the_stack_belongs_to_its_account(system: LocalAws) -> None:
    with pytest.raises(ClientError) as missing:
        describe(system, DEV_ACCOUNT)

    assert missing.value.response["Error"]["Code"] == "ValidationError"
    assert "does not exist" in missing.value.response["Error"]["Message"]
