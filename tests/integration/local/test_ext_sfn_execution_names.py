"""Smoke test of cardshare_local.extensions.sfn_execution_names: an unnamed execution gets a UUID."""

from __future__ import annotations

import json
import uuid

import boto3
from moto import mock_aws

from cardshare_local.accounts import REGION
from cardshare_local.extensions import sfn_execution_names

DEFINITION = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}


def test_an_execution_started_without_a_name_is_named_with_a_uuid() -> None:
    sfn_execution_names.install()
    with mock_aws():
        sfn = boto3.client("stepfunctions", region_name=REGION)
        machine = sfn.create_state_machine(
            name="m", definition=json.dumps(DEFINITION), roleArn="arn:aws:iam::123456789012:role/r"
        )["stateMachineArn"]
        first = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
        second = sfn.start_execution(stateMachineArn=machine)["executionArn"]
        named = sfn.start_execution(stateMachineArn=machine, name="mine")["executionArn"]

        names = [sfn.describe_execution(executionArn=arn)["name"] for arn in (first, second)]
        assert all(str(uuid.UUID(name)) == name for name in names), names
        assert names[0] != names[1]
        assert first.endswith(f":{names[0]}")
        assert named.endswith(":mine")
