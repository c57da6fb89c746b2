"""The deployed stack an operator points the CLI at: its outputs and its functions' settings."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from cardshare.cards import Card, CardReader
from cardshare.events import InvalidEventError, parse_card_arn
from cardshare.policy import ConfigError
from cardshare.settings import Settings, load_settings
from cardshare_cli.errors import OperatorError

# The CLI retries throttled reads the way the functions do: an audit over thousands of cards must not
# fail on a burst of ThrottlingException.
_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 8})
# SageMaker's rule for a model card name.
_CARD_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
_REQUIRED_OUTPUTS = ("PromoteCardStateMachineArn", "ReconcileFunctionName", "DecisionLedgerTableName")


@dataclass(frozen=True)
class Connection:
    """Where to find the stack: the AWS CLI's options of the same names."""

    stack_name: str = "cardshare"
    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None

    def session(self) -> boto3.Session:
        """A boto3 session for the profile and region (credentials resolved the usual way).

        The region: --region, else AWS_REGION (as the AWS CLI v2 and the SDKs read it), else
        AWS_DEFAULT_REGION or the profile's (botocore's own chain).
        """
        region = self.region or os.environ.get("AWS_REGION") or None
        return boto3.Session(profile_name=self.profile, region_name=region)

    def client(self, session: boto3.Session, service: str) -> Any:
        """A client of ``service``; ``--endpoint-url`` points every service at one server.

        Without it botocore reads AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_<SERVICE>) itself, as the AWS CLI does.
        """
        factory: Any = session.client  # the stubs type the service name as a literal per service
        return factory(service, endpoint_url=self.endpoint_url, config=_CONFIG)


@dataclass(frozen=True)
class Stack:
    """A deployed cardshare stack: where it lives, its outputs, and the settings its functions run with."""

    name: str
    partition: str
    account: str
    region: str
    outputs: dict[str, str]
    settings: Settings
    environment: dict[str, str]
    connection: Connection
    session: boto3.Session

    def client(self, service: str) -> Any:
        """A client in the stack's region."""
        return self.connection.client(self.session, service)

    def card_arn(self, card: str) -> str:
        """The ARN of ``card`` (a name or an ARN), which must be one of this stack's account and region."""
        if not card.startswith("arn:"):
            if not _CARD_NAME.fullmatch(card):
                raise OperatorError(f"{card!r} is not a model card name or ARN")
            return f"arn:{self.partition}:sagemaker:{self.region}:{self.account}:model-card/{card}"
        try:
            parsed = parse_card_arn(card)
        except InvalidEventError as error:
            raise OperatorError(f"{card!r} is not a model card ARN ({error})") from None
        if (parsed.account, parsed.region) != (self.account, self.region):
            raise OperatorError(
                f"card {parsed.name!r} lives in account {parsed.account} ({parsed.region}); stack {self.name!r} "
                f"shares the cards of {self.account} ({self.region})"
            )
        return parsed.arn


def resolve_card(stack: Stack, cards: CardReader, card: str) -> tuple[str, Card | None]:
    """The card's ARN as SageMaker returns it (what every key uses) and the card; None if it is gone."""
    given = stack.card_arn(card)
    described = cards.describe(given)
    return (described.arn if described else given), described


def unknown_card(stack: Stack, arn: str) -> OperatorError:
    """The error for a card that neither exists nor is still shared."""
    return OperatorError(f"no model card {arn.rsplit('/', 1)[-1]!r} in {stack.account} ({stack.region})")


def open_stack(connection: Connection) -> Stack:
    """Read the stack's outputs from CloudFormation and its settings from the reconciler's configuration."""
    session = connection.session()
    if not session.region_name:
        raise OperatorError("no AWS region: pass --region or set AWS_REGION (or AWS_DEFAULT_REGION)")
    cloudformation = connection.client(session, "cloudformation")
    try:
        described = cloudformation.describe_stacks(StackName=connection.stack_name)["Stacks"][0]
    except ClientError as error:
        if "does not exist" in error.response.get("Error", {}).get("Message", ""):
            raise OperatorError(
                f"stack {connection.stack_name!r} not found in {session.region_name} (pass --stack-name or --region)"
            ) from None
        raise
    outputs = {row["OutputKey"]: row["OutputValue"] for row in described.get("Outputs", [])}
    missing = [key for key in _REQUIRED_OUTPUTS if key not in outputs]
    if missing:
        raise OperatorError(f"stack {connection.stack_name!r} is not a cardshare stack (no output {missing[0]})")
    _, partition, _, _, account, _ = described["StackId"].split(":", 5)
    function = connection.client(session, "lambda").get_function_configuration(
        FunctionName=outputs["ReconcileFunctionName"]
    )
    environment = dict(function.get("Environment", {}).get("Variables", {}))
    try:
        settings = load_settings({**environment, "AWS_REGION": session.region_name})
    except ConfigError as error:
        raise OperatorError(f"stack {connection.stack_name!r}: its reconciler is misconfigured: {error}") from None
    return Stack(
        connection.stack_name,
        partition,
        account,
        session.region_name,
        outputs,
        settings,
        environment,
        connection,
        session,
    )
