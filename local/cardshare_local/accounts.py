"""The local organization: the model-card account and its consumer accounts."""

from __future__ import annotations

from dataclasses import dataclass

import boto3

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


@dataclass(frozen=True)
class Principal:
    """A named IAM role in an account, for acting as a person in the scenario."""

    account: str
    role: str

    @property
    def arn(self) -> str:
        """The role's ARN."""
        return f"arn:aws:iam::{self.account}:role/{self.role}"


def session_for(account: str, role: str = "cardshare-local", endpoint_url: str | None = None) -> boto3.Session:
    """A boto3 session acting as ``role`` in ``account`` (moto maps assumed-role keys to the account)."""
    sts = boto3.client("sts", region_name=REGION, endpoint_url=endpoint_url)
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{role}", RoleSessionName=role[:64])["Credentials"]
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=REGION,
    )
