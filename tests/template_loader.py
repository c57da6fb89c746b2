"""Load template.yaml with PyYAML, turning CloudFormation short-form tags into their long form.

``!Ref X`` becomes ``{"Ref": "X"}``, ``!GetAtt A.B`` becomes ``{"Fn::GetAtt": ["A", "B"]}`` and
every other ``!Tag value`` becomes ``{"Fn::Tag": value}``, so tests can read the template as data.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"

_TAGS = (
    "Ref",
    "Sub",
    "GetAtt",
    "If",
    "Join",
    "Not",
    "Equals",
    "And",
    "Or",
    "Select",
    "Split",
    "FindInMap",
    "GetAZs",
    "ImportValue",
    "Base64",
    "Cidr",
    "Condition",
    "Transform",
    "ToJsonString",
    "Length",
)


class CloudFormationLoader(yaml.SafeLoader):
    """A SafeLoader that understands the CloudFormation intrinsic-function tags."""


def _construct(tag: str) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        if tag == "Ref":
            return {"Ref": value}
        if tag == "Condition":
            return {"Condition": value}
        if tag == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
        return {f"Fn::{tag}": value}

    return construct


for _tag in _TAGS:
    CloudFormationLoader.add_constructor(f"!{_tag}", _construct(_tag))


def load_template_text(text: str) -> dict[str, Any]:
    """Parse a CloudFormation/SAM template written in YAML."""
    return yaml.load(text, Loader=CloudFormationLoader)


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
    sub = template["Resources"]["PlanCardFunction"]["Properties"]["Environment"]["Variables"]["CARDSHARE_STAGES"]
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
                "shareArn": shares.get(
                    name, f"arn:aws:ram:us-east-1:{owner_account}:resource-share/{name}-0000-1111-2222"
                ),
            }
        )
    return result
