"""template.yaml as data for tests: short-form tags in their long form (``!Ref X`` → ``{"Ref": "X"}``)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from cardshare_local.template import parse_template

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"


def load_template_text(text: str) -> dict[str, Any]:
    """Parse a CloudFormation/SAM template written in YAML (the local runtime's own reader)."""
    return parse_template(text)


@cache
def _template_json() -> str:
    return json.dumps(load_template_text(TEMPLATE.read_text(encoding="utf-8")))


def load_template() -> dict[str, Any]:
    """The repository's template.yaml, parsed (a fresh copy each call, so tests may modify it)."""
    return json.loads(_template_json())


def parameter_default(name: str) -> str:
    """The Default of one template parameter, as the string CloudFormation would see."""
    return str(load_template()["Parameters"][name]["Default"])


def default_stages(
    owner_account: str = "123456789012",
    principals: dict[str, str] | None = None,
    share_arns: dict[str, str] | None = None,
) -> list[dict[str, str]]:
    """The stage ladder the template builds from its parameter defaults (dev, test, prod).

    Access per stage and the parameter names are read from the template's CARDSHARE_STAGES
    ``!Sub``; statuses come from the DevStatuses/TestStatuses/ProdStatuses defaults.
    """
    principals = principals or {}
    shares = share_arns or {}
    template = load_template()
    variables_of = {
        **template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {}),
        **template["Resources"]["PlanCardFunction"]["Properties"].get("Environment", {}).get("Variables", {}),
    }
    sub = variables_of["CARDSHARE_STAGES"]
    body, variables = sub["Fn::Sub"]
    stages = json.loads(body)
    result = []
    for stage in stages:
        name = stage["name"]
        grants_var = stage["statuses"].strip("${}")
        # DevGrants: !Join [",", !Ref DevStatuses]
        statuses_param = variables[grants_var]["Fn::Join"][1]["Ref"]
        result.append(
            {
                "name": name,
                "access": stage["access"],
                "principals": principals.get(name, ""),
                "statuses": parameter_default(statuses_param),
                "shareArns": [
                    shares.get(name, f"arn:aws:ram:us-east-1:{owner_account}:resource-share/{name}-0000-1111-2222")
                ],
            }
        )
    return result
