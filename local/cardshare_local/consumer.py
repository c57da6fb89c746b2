"""Deploying consumer/template.yaml into a consumer account of the embedded AWS.

In AWS the consumer template goes to the dev, test and prod accounts with StackSets (or one
`aws cloudformation deploy` per account); locally it is deployed with a session of that account,
through the same deployer as the cardshare stack.
"""

from __future__ import annotations

from collections.abc import Mapping

from cardshare_local.accounts import MODEL_CARD_ACCOUNT
from cardshare_local.deploy import Stack, deploy_stack
from cardshare_local.runtime import LocalAws

CONSUMER_STACK_NAME = "cardshare-consumer"


def deploy_consumer(system: LocalAws, account: str, stage: str, parameters: Mapping[str, str] | None = None) -> Stack:
    """Deploy the consumer template for ``stage`` into ``account``, pointing at ``system``'s stack.

    The stage's access comes from the deployed ladder, as an operator copies it from the stack.
    """
    (ladder_stage,) = [s for s in system.settings().ladder.stages if s.name == stage]
    return deploy_stack(
        system.root / "consumer",
        system.session(account),
        {
            "ModelCardAccountId": MODEL_CARD_ACCOUNT,
            "ModelCardRegion": system.region,
            "Stage": stage,
            "Access": ladder_stage.access.value,
            "CardshareStackName": system.stack.name,
            **(parameters or {}),
        },
        stack_name=CONSUMER_STACK_NAME,
        account=account,
        region=system.region,
    )
