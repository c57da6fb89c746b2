"""Step Functions adapter: start the promote-card workflow (the reconciler's repairs)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


class Workflow:
    """Starts executions of one state machine through an injected boto3 session (or client)."""

    def __init__(self, client: Any, state_machine_arn: str) -> None:
        self._client = client
        self._arn = state_machine_arn

    @classmethod
    def from_session(cls, session: Any, state_machine_arn: str, config: Any = None) -> Workflow:
        """Build the adapter from a boto3 session."""
        return cls(session.client("stepfunctions", config=config), state_machine_arn)

    def start(self, name: str, event: Mapping[str, Any]) -> str:
        """StartExecution with ``event`` as input; idempotent for the same name and input."""
        response = self._client.start_execution(stateMachineArn=self._arn, name=name, input=json.dumps(event))
        return str(response["executionArn"])
