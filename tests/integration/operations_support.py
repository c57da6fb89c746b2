"""Driving and reading a deployed stack's functions and alarms (the operations tests' helpers)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from template_loader import load_template

from cardshare_local.accounts import MODEL_CARD_ACCOUNT, REGION
from cardshare_local.extensions import lambda_inprocess
from cardshare_local.runtime import LocalAws

ROOT = Path(__file__).resolve().parents[2]
RESOURCES: dict[str, dict[str, Any]] = load_template()["Resources"]
# Short governance waits: a change is out of flight for the reconciler after about a second.
PARAMETERS = {"EvidenceWaitSeconds": "1", "QuietSeconds": "0"}
STACK = "cardshare-blue"


def resource_names(kind: str) -> list[str]:
    return [name for name, resource in RESOURCES.items() if resource["Type"] == kind]


def invoke(system: LocalAws, function: str, payload: Any) -> dict[str, Any]:
    response = (
        system.session()
        .client("lambda")
        .invoke(FunctionName=system.stack.resources[function], Payload=json.dumps(payload))
    )
    return {"error": response.get("FunctionError"), "payload": json.loads(response["Payload"].read())}


def log_of(system: LocalAws, function: str) -> list[dict[str, Any]]:
    lines = lambda_inprocess.logs(str(system.stack.resources[function]))
    return [json.loads(line) for line in lines if line.startswith("{")]


def sample(name: str) -> dict[str, Any]:
    return dict(json.loads((ROOT / "events" / name).read_text(encoding="utf-8")))


def execution_arn() -> str:
    return f"arn:aws:states:{REGION}:{MODEL_CARD_ACCOUNT}:execution:{STACK}-promote-card:{uuid.uuid4()}"


def stack_alarms(system: LocalAws) -> list[dict[str, Any]]:
    names = [system.stack.resources[name] for name in resource_names("AWS::CloudWatch::Alarm")]
    alarms = system.session().client("cloudwatch").describe_alarms(AlarmNames=names)["MetricAlarms"]
    assert len(alarms) == len(names) >= 7
    return list(alarms)
