"""A stage spanning several RAM shares, end to end: the deployed workflow and reconciler on the embedded AWS.

The spill test deploys the template with two shares per stage (``ShareSlots=1,2``) on an embedded
RAM that holds 3 resources per share, so six Draft cards spill over dev's two shares, and a seventh
whose own share is full fails loudly. The move test starts from one share per stage and then does
what a stack update from ``ShareSlots=1`` to ``1,2`` does: a second share per stage (same principals,
same permission) and the functions' variables naming it.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from e2e_support import (
    Executions,
    assert_succeeded,
    card_arn,
    card_content,
    client,
    ram_tasks,
    sagemaker,
)
from governance_support import ledger, out_of_flight, reconcile, settle

from cardshare.policy import Stage, StageLadder, slot_of
from cardshare_cli.main import main
from cardshare_local.accounts import DEV_ACCOUNT, TEST_ACCOUNT
from cardshare_local.extensions import ram
from cardshare_local.runtime import LocalAws

LIMIT = 3


@pytest.fixture
def limited(system: LocalAws, monkeypatch: pytest.MonkeyPatch) -> LocalAws:
    """The deployed stack on a RAM that holds at most LIMIT resources per share."""
    monkeypatch.setattr(ram, "RESOURCES_PER_SHARE", LIMIT)
    return system


TWO_SLOTS = pytest.mark.parametrize("system", [{"ShareSlots": "1,2"}], indirect=True)


def mirror(system: LocalAws, stage: Stage) -> str:
    """A second share for ``stage``: the principals and permission of the deployed one."""
    rams = client(system, "ram")
    deployed = stage.share_arns[0]
    permissions = [p["arn"] for p in rams.list_resource_share_permissions(resourceShareArn=deployed)["permissions"]]
    [existing] = [
        share
        for share in rams.get_resource_shares(resourceOwner="SELF")["resourceShares"]
        if share["resourceShareArn"] == deployed
    ]
    created = rams.create_resource_share(
        name=f"{existing['name'].removesuffix('-1')}-2",
        principals=list(stage.principals),
        permissionArns=permissions,
        allowExternalPrincipals=existing["allowExternalPrincipals"],
    )
    return str(created["resourceShare"]["resourceShareArn"])


def add_shares(system: LocalAws) -> dict[str, str]:
    """A second share for every stage (not in use yet): stage name → its ARN."""
    return {stage.name: mirror(system, stage) for stage in system.settings().ladder.stages}


def use_shares(system: LocalAws, extra: dict[str, str]) -> StageLadder:
    """The functions' variables as the template renders them with ``ShareSlots=1,2``: slot 2 is the extra share."""
    lam = client(system, "lambda")
    for logical_id, variables in system.stack.environment.items():
        if "CARDSHARE_STAGE_ORDER" not in variables:
            continue
        variables["CARDSHARE_SHARE_SLOTS"] = "1,2"
        for stage_name, share_arn in extra.items():
            variables[f"CARDSHARE_SHARE_{stage_name}_2"] = share_arn
        name = system.stack.resources[logical_id]
        lam.update_function_configuration(FunctionName=name, Environment={"Variables": dict(variables)})
    ladder: StageLadder = system.settings().ladder
    assert all(len(stage.share_arns) == 2 for stage in ladder.stages)
    return ladder


def stage(ladder: StageLadder, name: str) -> Stage:
    return next(s for s in ladder.stages if s.name == name)


def names_in_slots(ladder: StageLadder, per_slot: int, prefix: str) -> list[str]:
    """Card names whose own dev share is slot 0 for the first ``per_slot`` and slot 1 for the next."""
    dev = stage(ladder, "dev")
    slots: dict[str, list[str]] = {share: [] for share in dev.share_arns}
    for index in itertools.count():
        name = f"{prefix}-{index}"
        chosen = slots[dev.share_for(card_arn(name))]
        if len(chosen) < per_slot:
            chosen.append(name)
        if all(len(found) == per_slot for found in slots.values()):
            return [name for found in slots.values() for name in found]
    raise AssertionError("unreachable")


def held(system: LocalAws, share_arn: str) -> dict[str, str]:
    """Resource → status of every association of one share (DISASSOCIATED left out)."""
    ram.settle()
    rows = client(system, "ram").get_resource_share_associations(
        associationType="RESOURCE", resourceShareArns=[share_arn]
    )["resourceShareAssociations"]
    return {r["associatedEntity"]: r["status"] for r in rows if r["status"] != "DISASSOCIATED"}


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    """Run the operator CLI in-process with JSON output; its answer."""
    capsys.readouterr()
    assert main(["--output", "json", *args]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def create(system: LocalAws, names: list[str], status: str = "Draft") -> None:
    lead = sagemaker(system)
    for name in names:
        lead.create_model_card(ModelCardName=name, Content=card_content(), ModelCardStatus=status)


@TWO_SLOTS
def test_a_stage_spills_over_its_shares_and_a_full_own_share_fails_loudly(limited: LocalAws) -> None:
    system = limited
    ladder = system.settings().ladder
    assert all(len(s.share_arns) == 2 for s in ladder.stages)
    dev = stage(ladder, "dev")
    assert system.stack.outputs["devShare2Arn"] == dev.share_arns[1]
    watch = Executions(system, skip_existing=True)
    names = names_in_slots(ladder, LIMIT, "Spill")
    create(system, names)
    executions = watch.new()
    for execution in executions:
        assert_succeeded([execution], added={"dev"}, status="Draft")

    # Six cards in dev, more than one share holds: each in its own share, three and three.
    for share in dev.share_arns:
        assert held(system, share) == {card_arn(n): "ASSOCIATED" for n in names if dev.share_for(card_arn(n)) == share}
    for name in names:
        assert system.associations(card_arn(name)) == {"dev": "ASSOCIATED"}
        # The dev account sees every card, whichever share holds it.
        assert system.access(card_arn(name), DEV_ACCOUNT) == "read-write"
        assert system.access(card_arn(name), TEST_ACCOUNT) == "none"

    # A seventh card whose own share is full: no other slot, a failed decision naming share and limit.
    [extra] = [n for n in names_in_slots(ladder, LIMIT + 1, "Spill") if n not in names][:1]
    own = dev.share_for(card_arn(extra))
    create(system, [extra])
    [failed] = watch.new()
    assert failed["status"] == "FAILED", failed
    assert ram_tasks(system, failed) == ["Associate"]
    [record] = ledger(system, card_arn(extra))
    assert record["outcome"] == "failed"
    assert "ResourceShareLimitExceededException" in record["error"] + record["cause"], record
    assert own in record["cause"], record
    assert f"limit of {LIMIT} resource associations" in record["cause"], record
    assert system.associations(card_arn(extra)) == {}
    other = next(s for s in dev.share_arns if s != own)
    assert card_arn(extra) not in held(system, other)  # never put into another slot


def test_adding_a_share_moves_the_cards_whose_slot_changed_without_losing_access(
    system: LocalAws, capsys: pytest.CaptureFixture[str]
) -> None:
    watch = Executions(system, skip_existing=True)
    extra = add_shares(system)
    # With two shares per stage, slot 1 is the new share: pick two dev cards and two dev+test cards,
    # one of each that will have to move in dev and one that stays.
    by_slot: dict[int, list[str]] = {0: [], 1: []}
    for i in itertools.count():
        name = f"Move-{i}"
        if len(by_slot[slot_of(card_arn(name), 2)]) < 2:
            by_slot[slot_of(card_arn(name), 2)].append(name)
        if len(by_slot[0]) == len(by_slot[1]) == 2:
            break
    drafts, reviewed = [by_slot[0][0], by_slot[1][0]], [by_slot[0][1], by_slot[1][1]]
    create(system, drafts)
    create(system, reviewed, "PendingReview")
    settle(watch)
    names = drafts + reviewed
    last_change = max(
        sagemaker(system).describe_model_card(ModelCardName=n)["LastModifiedTime"].timestamp() for n in names
    )

    ladder = use_shares(system, extra)
    dev, test = stage(ladder, "dev"), stage(ladder, "test")
    stages_of = {name: [dev] if name in drafts else [dev, test] for name in names}
    misplaced = {
        card_arn(name): sorted(s.name for s in stages_of[name] if s.share_for(card_arn(name)) != s.share_arns[0])
        for name in names
    }
    mover = card_arn(by_slot[1][0])
    assert misplaced[mover] == ["dev"]
    # The operator sees the stage's access through the share that holds the card, and its own share.
    rows = {row["stage"]: row for row in cli(capsys, "status", mover)["stages"]}
    assert (rows["dev"]["shareArn"], rows["dev"]["ownShareArn"]) == (dev.share_arns[0], dev.share_arns[1])
    assert (rows["dev"]["access"], rows["test"]["access"]) == ("read-write", "none")
    matrix = {row["cardArn"]: row["stages"] for row in cli(capsys, "cards")}
    assert matrix[mover] == {"dev": "read-write", "test": "none", "prod": "none"}

    out_of_flight(system, last_change)
    report = reconcile(system, dry_run=True)
    found = {d["card"]: d for d in report["drift"]}
    assert {arn: d["misplaced"] for arn, d in found.items()} == {arn: m for arn, m in misplaced.items() if m}
    assert all(d["missing"] == [] and d["extra"] == [] for d in found.values())

    reconcile(system)
    repairs = settle(watch)
    assert len(repairs) == len(found)
    for execution in repairs:
        result = json.loads(execution["output"])
        # A move changes no stage's access: nothing added, nothing removed.
        assert (result["sharesAdded"], result["sharesRemoved"]) == ([], []), result
        # Add before remove: the own share is associated in an earlier round than the other is left.
        tasks = ram_tasks(system, execution)
        assert tasks.index("Associate") < tasks.index("Disassociate"), tasks
    for name in names:
        arn = card_arn(name)
        for s in stages_of[name]:
            assert held(system, s.share_for(arn)).get(arn) == "ASSOCIATED"
            assert all(arn not in held(system, share) for share in s.share_arns if share != s.share_for(arn))
        assert system.access(arn, DEV_ACCOUNT) == "read-write"
        assert system.access(arn, TEST_ACCOUNT) == ("read-write" if name in reviewed else "none")
    assert reconcile(system, dry_run=True)["drift"] == []
    rows = {row["stage"]: row for row in cli(capsys, "status", mover)["stages"]}
    assert (rows["dev"]["shareArn"], rows["dev"]["ownShareArn"]) == (dev.share_arns[1], dev.share_arns[1])
