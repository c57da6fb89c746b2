"""Scheduled: accept cardshare's pending RAM invitation for this account, and no other."""

from __future__ import annotations

import os
from typing import Any

import boto3
from accepter import accept_matching
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from invitation_rule import InvitationRule

logger = Logger()
_config = Config(retries={"mode": "adaptive", "max_attempts": 8})


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Accept the invitations the configured rule allows; return what was accepted and ignored."""
    rule = InvitationRule.from_environment(os.environ)
    # A client per run, from the credentials of this run: the function runs a few times an hour,
    # and RAM invitations live in the model-card account's region, not necessarily this one.
    ram = boto3.session.Session().client("ram", region_name=rule.region, config=_config)
    return accept_matching(ram, rule, logger).as_dict()
