"""A fourth stage, added the way the README says: one parameter block in template.yaml, its name in Stages.

The block is taken from the README's "Adding a stage" section and inserted into a copy of the
template; nothing else changes (the functions, layer and ASL are the repository's own). A card
then walks Draft → PendingReview → Approved → Archived through dev, test, staging and prod, and
each consumer account's real access (RAM's view, reads and refused writes) is checked against a
table written out by hand, as is the operator CLI's view.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_support import assert_associations, assert_consumers, walk
from governance_support import out_of_flight, reconcile

from cardshare_cli.main import main
from cardshare_local.accounts import DEV_ACCOUNT, PROD_ACCOUNT, TEST_ACCOUNT, stage_account
from cardshare_local.runtime import LocalAws, local_aws

ROOT = Path(__file__).resolve().parents[2]
STAGING = stage_account("staging")
FOUR_STAGES = "dev,test,staging,prod"


def readme_stage_block() -> str:
    """The YAML block of the README's "Adding a stage" section, exactly as written."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Adding a stage", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```yaml\n(.*?)```", section, flags=re.S)
    return block


def with_stage_block(template: str, block: str) -> str:
    """template.yaml with ``block`` added at the top of its Parameters."""
    assert template.count("\nParameters:\n") == 1
    return template.replace("\nParameters:\n", "\nParameters:\n" + block, 1)


@pytest.fixture
def four_stages(tmp_path: Path) -> Iterator[LocalAws]:
    """cardshare deployed from a copy of the template with the README's staging block added."""
    for folder in ("functions", "layers", "statemachines"):
        (tmp_path / folder).symlink_to(ROOT / folder)
    template = (ROOT / "template.yaml").read_text(encoding="utf-8")
    (tmp_path / "template.yaml").write_text(with_stage_block(template, readme_stage_block()), encoding="utf-8")
    with local_aws({"Stages": FOUR_STAGES}, root=tmp_path) as system:
        yield system


#: Written out by hand: each account's access to the card in each status (staging: read-only, Approved).
EXPECTED = {
    "Draft": {DEV_ACCOUNT: "read-write", TEST_ACCOUNT: "none", STAGING: "none", PROD_ACCOUNT: "none"},
    "PendingReview": {DEV_ACCOUNT: "read-write", TEST_ACCOUNT: "read-write", STAGING: "none", PROD_ACCOUNT: "none"},
    "Approved": {
        DEV_ACCOUNT: "read-write",
        TEST_ACCOUNT: "read-write",
        STAGING: "read-only",
        PROD_ACCOUNT: "read-only",
    },
    "Archived": {DEV_ACCOUNT: "none", TEST_ACCOUNT: "none", STAGING: "none", PROD_ACCOUNT: "read-only"},
}
SHARED_WITH = {
    "Draft": {"dev"},
    "PendingReview": {"dev", "test"},
    "Approved": {"dev", "test", "staging", "prod"},
    "Archived": {"prod"},
}


def cli_json(*args: str, capsys: pytest.CaptureFixture[str]) -> Any:
    capsys.readouterr()
    assert main(["--output", "json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_readme_block_is_a_stage_block() -> None:
    block = readme_stage_block()
    assert set(re.findall(r"^  (\w+):$", block, flags=re.M)) == {
        "stagingAccountIds",
        "stagingStatuses",
        "stagingAccess",
    }


def test_the_added_stage_joins_the_ladder_in_its_place(four_stages: LocalAws) -> None:
    ladder = four_stages.settings().ladder
    assert [stage.name for stage in ladder.stages] == ["dev", "test", "staging", "prod"]
    staging = ladder.stages[2]
    assert (staging.access.value, staging.principals) == ("read-only", (STAGING,))
    assert [status.value for status in staging.statuses] == ["Approved"]
    # Its own share, named and output like the others, holding the stack's read-only permission.
    assert "stagingShare1Arn" in four_stages.stack.outputs
    assert four_stages.share_arns["staging"] == four_stages.stack.outputs["stagingShare1Arn"]
    assert len(set(four_stages.share_arns.values())) == 4


@pytest.mark.parametrize("statuses", [("Draft", "PendingReview", "Approved", "Archived")])
def test_a_card_walks_through_four_stages(
    four_stages: LocalAws, statuses: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    for last in range(1, len(statuses) + 1):
        name = f"Four-Stage-Card-{last}"
        arn = walk(four_stages, name, *statuses[:last])
        status = statuses[last - 1]
        assert_associations(four_stages, arn, SHARED_WITH[status])
        assert_consumers(four_stages, arn, EXPECTED[status])
        shown = cli_json("status", name, capsys=capsys)
        assert {row["stage"]: row["access"] for row in shown["stages"]} == {
            stage: EXPECTED[status][stage_account(stage)] for stage in ("dev", "test", "staging", "prod")
        }


def test_the_reconciler_repairs_the_added_stage(four_stages: LocalAws) -> None:
    arn = walk(four_stages, "Staging-Drift-Card", "Draft", "PendingReview", "Approved")
    ram = four_stages.session().client("ram")
    ram.disassociate_resource_share(resourceShareArn=four_stages.share_arns["staging"], resourceArns=[arn])
    four_stages.wait_idle()
    assert four_stages.access(arn, STAGING) == "none"

    # The reconciler leaves a card changed less than its flight window ago to that change's own
    # execution; the approval above may be that recent on a fast machine.
    modified = four_stages.session().client("sagemaker").describe_model_card(ModelCardName=arn)["LastModifiedTime"]
    out_of_flight(four_stages, modified.timestamp())
    report = reconcile(four_stages)
    assert [(d["card"], d["missing"]) for d in report["drift"]] == [(arn, ["staging"])]
    four_stages.wait_idle()

    assert_associations(four_stages, arn, SHARED_WITH["Approved"])
    assert four_stages.access(arn, STAGING) == "read-only"
