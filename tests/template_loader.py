"""template.yaml as data for tests: short-form tags in their long form (``!Ref X`` → ``{"Ref": "X"}``)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from cardshare_local.language_extensions import expand
from cardshare_local.template import parse_template

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"


def load_template_text(text: str) -> dict[str, Any]:
    """Parse a CloudFormation/SAM template written in YAML (the local runtime's own reader)."""
    return parse_template(text)


@cache
def _template_json() -> str:
    return json.dumps(load_template_text(TEMPLATE.read_text(encoding="utf-8")))


def load_raw_template() -> dict[str, Any]:
    """template.yaml as written, its Fn::ForEach loops unexpanded (a fresh copy each call)."""
    return json.loads(_template_json())


def load_template(parameters: dict[str, str] | None = None) -> dict[str, Any]:
    """template.yaml as CloudFormation sees it after AWS::LanguageExtensions (a fresh copy each call).

    Loops run over the collection parameters' defaults, or over ``parameters`` where given.
    """
    raw = load_raw_template()
    values = {
        name: str((parameters or {}).get(name, spec.get("Default", ""))).split(",")
        for name, spec in raw["Parameters"].items()
        if spec.get("Type") == "CommaDelimitedList"
    }
    return expand(raw, values)


def parameter_default(name: str) -> str:
    """The Default of one template parameter, as the string CloudFormation would see."""
    return str(load_raw_template()["Parameters"][name]["Default"])


def stage_names() -> list[str]:
    """The template's default stages, in ladder order."""
    return parameter_default("Stages").split(",")


def default_stages(
    owner_account: str = "123456789012",
    principals: dict[str, str] | None = None,
    share_arns: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The stage ladder the template builds from its parameter defaults (dev, test, prod).

    Stage names come from ``Stages``; access and statuses from each stage's ``<stage>Access`` and
    ``<stage>Statuses`` defaults: the same parameters the template's per-stage variables read.
    """
    principals = principals or {}
    shares = share_arns or {}
    return [
        {
            "name": name,
            "access": parameter_default(f"{name}Access"),
            "principals": principals.get(name, ""),
            "statuses": parameter_default(f"{name}Statuses"),
            "shareArns": [
                shares.get(name, f"arn:aws:ram:us-east-1:{owner_account}:resource-share/{name}-0000-1111-2222")
            ],
        }
        for name in stage_names()
    ]
