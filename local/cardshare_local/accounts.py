"""The local organization: the model-card account and its consumer accounts."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.awsrequest import AWSRequest

from cardshare_local.extensions.sagemaker_cards import STUDIO_USER_PROFILE_HEADER

REGION = "us-east-1"
# Step Functions' embedded interpreter always calls AWS as moto's default account, so the stack
# (and therefore the model cards) live there.
MODEL_CARD_ACCOUNT = "123456789012"
DEV_ACCOUNT = "111111111111"
TEST_ACCOUNT = "222222222222"
PROD_ACCOUNT = "333333333333"
# A consumer outside the organization: it sees nothing until it accepts the RAM invitation.
EXTERNAL_ACCOUNT = "444444444444"
ORGANIZATION_ID = "o-cardshare01"
ORGANIZATION_MEMBERS = frozenset({MODEL_CARD_ACCOUNT, DEV_ACCOUNT, TEST_ACCOUNT, PROD_ACCOUNT})
# The consumer account of each of the template's default stages.
STAGE_ACCOUNTS = {"dev": DEV_ACCOUNT, "test": TEST_ACCOUNT, "prod": PROD_ACCOUNT}


def stage_account(stage: str) -> str:
    """The local consumer account of ``stage``.

    The seed accounts for dev, test and prod; for any other stage a member account of its own,
    derived from the name (stable across runs).
    """
    if stage in STAGE_ACCOUNTS:
        return STAGE_ACCOUNTS[stage]
    digits = int(hashlib.sha256(stage.encode()).hexdigest(), 16) % 10**11
    return f"5{digits:011d}"


@dataclass(frozen=True)
class Principal:
    """A named IAM role in an account, for acting as a person in the scenario."""

    account: str
    role: str

    @property
    def arn(self) -> str:
        """The role's ARN."""
        return f"arn:aws:iam::{self.account}:role/{self.role}"


def session_for(
    account: str,
    role: str = "cardshare-local",
    endpoint_url: str | None = None,
    *,
    session_name: str | None = None,
    source_identity: str | None = None,
) -> boto3.Session:
    """A boto3 session acting as ``role`` in ``account`` (moto maps assumed-role keys to the account).

    The role session is named ``session_name`` (default: the role name), so its ARN is
    ``arn:aws:sts::<account>:assumed-role/<role>/<session_name>``. ``source_identity`` is set on the
    session like ``sts:AssumeRole(SourceIdentity=...)`` does, for callers that carry a person's name
    through a shared role.
    """
    sts = boto3.client("sts", region_name=REGION, endpoint_url=endpoint_url)
    request: dict[str, str] = {
        "RoleArn": f"arn:aws:iam::{account}:role/{role}",
        "RoleSessionName": (session_name or role)[:64],
    }
    if source_identity is not None:
        request["SourceIdentity"] = source_identity
    creds = sts.assume_role(**request)["Credentials"]
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=REGION,
    )


def studio_session(
    account: str, domain_id: str, user_profile: str, execution_role: str, endpoint_url: str | None = None
) -> boto3.Session:
    """A boto3 session acting as SageMaker Studio user ``user_profile`` of domain ``domain_id``.

    A Studio app calls AWS with the domain's execution role (role name ``execution_role``, session
    "SageMaker"), and SageMaker records the user profile beside that IAM identity. Locally every
    request of every client of this session names the profile in the header
    ``x-cardshare-studio-user-profile: <domain_id>/<user_profile>``, which the model-card extension
    reads. Create clients from the returned session (they copy its event handlers when created).
    """
    session = session_for(account, execution_role, endpoint_url, session_name="SageMaker")
    value = f"{domain_id}/{user_profile}"

    def add_header(request: AWSRequest, **_: Any) -> None:
        # before-sign runs before moto's in-process interception (before-send) and before the
        # signature, so the header reaches mock_aws and the server alike, and it is signed.
        request.headers[STUDIO_USER_PROFILE_HEADER] = value

    session.events.register("before-sign", add_header)
    return session
