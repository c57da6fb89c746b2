"""In-process functions of another account than moto's default act as that account, like in AWS."""

from __future__ import annotations

import io
import json
import os
import textwrap
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from cardshare_local.accounts import EXTERNAL_ACCOUNT, MODEL_CARD_ACCOUNT, REGION, session_for
from cardshare_local.extensions import lambda_inprocess

WHO_AM_I = """
import boto3


def handler(event, context):
    # A session made during the invocation, from the credentials Lambda gives this run.
    identity = boto3.session.Session().client("sts").get_caller_identity()
    return {"account": identity["Account"], "arn": identity["Arn"]}
"""


def _create(session: boto3.Session, name: str, code_dir: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "")
    role = session.client("iam").create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    session.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": buffer.getvalue()},
    )
    lambda_inprocess.register_source(name, code_dir)


@pytest.fixture
def code_dir(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "app.py").write_text(textwrap.dedent(WHO_AM_I))
    lambda_inprocess.install()
    with mock_aws():
        yield tmp_path
    lambda_inprocess.reset(sources=True)


def _invoke(session: boto3.Session, name: str) -> dict[str, Any]:
    response = session.client("lambda").invoke(FunctionName=name, Payload=b"{}")
    assert "FunctionError" not in response
    return dict(json.loads(response["Payload"].read()))


def test_a_function_in_another_account_acts_with_its_role_there(code_dir: Path) -> None:
    external = session_for(EXTERNAL_ACCOUNT)
    _create(external, "who-am-i", code_dir)
    before = os.environ.get("AWS_ACCESS_KEY_ID")
    result = _invoke(external, "who-am-i")
    assert result["account"] == EXTERNAL_ACCOUNT
    assert result["arn"].startswith(f"arn:aws:sts::{EXTERNAL_ACCOUNT}:assumed-role/who-am-i-role/")
    # The process's own credentials are back once the function returns.
    assert os.environ.get("AWS_ACCESS_KEY_ID") == before
    assert boto3.client("sts", region_name=REGION).get_caller_identity()["Account"] == MODEL_CARD_ACCOUNT


def test_a_function_in_the_default_account_keeps_the_process_credentials(code_dir: Path) -> None:
    default = boto3.Session(region_name=REGION)
    _create(default, "who-am-i-here", code_dir)
    result = _invoke(default, "who-am-i-here")
    assert result["account"] == MODEL_CARD_ACCOUNT
    assert ":assumed-role/" not in result["arn"]
