"""consumer/template.yaml: cfn-lint, StackSets-compatible, and in agreement with the README's SCP."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from cardshare_local.template import parse_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "consumer" / "template.yaml"
TEMPLATE = parse_template(TEMPLATE_PATH.read_text(encoding="utf-8"))
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]


def consumer_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split("### What the consumer accounts must do", 1)[1].split("\n## ", 1)[0]


def test_cfn_lint_is_clean() -> None:
    # Through this interpreter, so a stale console-script shebang cannot break it.
    command = [
        sys.executable,
        "-c",
        "import sys; from cfnlint.runner import main; sys.exit(main())",
        str(TEMPLATE_PATH),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_transform_so_service_managed_stack_sets_accept_it() -> None:
    assert "Transform" not in TEMPLATE
    assert not any(spec["Type"].startswith("AWS::Serverless::") for spec in RESOURCES.values())


def test_the_readme_scp_denies_what_the_prod_guard_denies() -> None:
    [scp_text] = re.findall(r"```json\n(.*?)```", consumer_section(), re.S)
    [statement] = json.loads(scp_text)["Statement"]
    [guard] = RESOURCES["ProdGuardPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    without_export = guard["Action"]["Fn::If"][2]
    assert statement["Effect"] == guard["Effect"] == "Deny"
    assert sorted(statement["Action"]) == sorted(without_export)
    assert "sagemaker:CreateModelCardExportJob" not in guard["Action"]["Fn::If"][1]
    expected = guard["Resource"]["Fn::Sub"].replace("${AWS::Partition}", "aws")
    assert statement["Resource"] == expected.replace("${ModelCardAccountId}", "123456789012")


def test_every_sagemaker_statement_is_scoped_to_the_model_card_accounts_cards() -> None:
    statements = [
        s
        for name in ("CardAccessPolicy", "ProdGuardPolicy")
        for s in RESOURCES[name]["Properties"]["PolicyDocument"]["Statement"]
    ]
    flat = [s["Fn::If"][1] if "Fn::If" in s else s for s in statements]
    for statement in flat:
        if "Sid" in statement and statement["Sid"].startswith("Decrypt"):
            assert statement["Condition"]["StringEquals"]["kms:ViaService"]["Fn::Sub"].startswith("sagemaker.")
            continue
        resource = statement["Resource"]["Fn::Sub"]
        assert re.fullmatch(
            r"arn:\$\{AWS::Partition\}:sagemaker:[^:]+:\$\{ModelCardAccountId\}:model-card/\*", resource
        )


def test_the_accepter_role_may_accept_only_the_model_card_accounts_invitations() -> None:
    [policy] = RESOURCES["AcceptInvitationsRole"]["Properties"]["Policies"]
    accept = [s for s in policy["PolicyDocument"]["Statement"] if s["Action"] == "ram:AcceptResourceShareInvitation"]
    assert [s["Resource"]["Fn::Sub"] for s in accept] == [
        "arn:${AWS::Partition}:ram:${ModelCardRegion}:${ModelCardAccountId}:resource-share-invitation/*"
    ]
    variables = RESOURCES["AcceptInvitationsFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["ACCEPTED_SHARE_PREFIX"] == {"Fn::Sub": "${CardshareStackName}-${Stage}"}
    assert variables["ACCEPTED_SHARE_SLOTS"] == {"Fn::Join": [",", {"Ref": "ShareSlots"}]}
