"""Static checks of template.yaml and the ASL: trigger, wiring, read-only prod, least privilege, logs."""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto.events.models import EventPattern
from template_loader import ROOT, load_raw_template, load_template, parameter_default, stage_names

from cardshare.evidence_store import EVIDENCE_KEY
from cardshare.gate_config import GateConfig, RawGateSettings, parse_gate_config
from cardshare.policy import Access
from cardshare.settings import Settings, load_settings
from cardshare_local.deploy import merge_globals
from cardshare_local.language_extensions import expand
from cardshare_local.template import Resolver, TemplateError, parse_template
from cardshare_local.template import load_template as read_template_file

ACCOUNT = "123456789012"
EVENTS = ROOT / "events"
STATE_MACHINES = ROOT / "statemachines"
TEMPLATE = load_template()
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]


def of_type(kind: str) -> dict[str, dict[str, Any]]:
    return {name: resource for name, resource in RESOURCES.items() if resource["Type"] == kind}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def resolve(value: Any, refs: dict[str, Any]) -> Any:
    """Replace {"Ref": X} by refs[X] wherever it appears."""
    if isinstance(value, dict):
        if set(value) == {"Ref"} and value["Ref"] in refs:
            return refs[value["Ref"]]
        return {key: resolve(item, refs) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, refs) for item in value]
    return value


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


# ---- the trigger ----------------------------------------------------------------------------------


def card_rule_name() -> str:
    rules = [
        name
        for name, rule in of_type("AWS::Events::Rule").items()
        if "SageMaker Model Card State Change" in rule["Properties"]["EventPattern"].get("detail-type", [])
    ]
    assert len(rules) == 1, "expected exactly one rule on SageMaker Model Card State Change"
    return rules[0]


def card_rule() -> dict[str, Any]:
    return RESOURCES[card_rule_name()]


def rule_pattern() -> EventPattern:
    pattern = resolve(card_rule()["Properties"]["EventPattern"], {"AWS::AccountId": ACCOUNT})
    return EventPattern.load(json.dumps(pattern))


def test_rule_pattern_is_scoped_to_this_account_by_ref() -> None:
    pattern = card_rule()["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.sagemaker"]
    assert pattern["account"] == [{"Ref": "AWS::AccountId"}]


@pytest.mark.parametrize("sample", sorted(path.name for path in EVENTS.glob("card-*.json")))
def test_rule_matches_every_status_sample(sample: str) -> None:
    assert rule_pattern().matches_event(load_event(sample))


def test_there_are_status_samples_for_every_status() -> None:
    statuses = {load_event(path.name)["detail"]["ModelCardStatus"] for path in EVENTS.glob("card-*.json")}
    assert statuses == {"Draft", "PendingReview", "Approved", "Archived"}


def test_rule_does_not_match_a_model_package_event() -> None:
    assert not rule_pattern().matches_event(load_event("other-model-package-state-change.json"))


def test_rule_does_not_match_another_account() -> None:
    event = load_event("card-approved.json")
    event["account"] = "999999999999"
    assert not rule_pattern().matches_event(event)
    assert not rule_pattern().matches_event(load_event("reference-model-card-state-change.json"))


def test_rule_does_not_match_another_source() -> None:
    event = load_event("card-approved.json")
    event["source"] = "custom.sagemaker"
    assert not rule_pattern().matches_event(event)


def test_rule_targets_the_state_machine_with_dlq_and_retry_policy() -> None:
    rule = card_rule()
    assert rule["Properties"].get("State", "ENABLED") == "ENABLED"
    targets = rule["Properties"]["Targets"]
    assert len(targets) == 1
    target = targets[0]
    assert target["Arn"] == {"Ref": "PromoteCardStateMachine"}
    assert RESOURCES["PromoteCardStateMachine"]["Type"] == "AWS::Serverless::StateMachine"
    dlq = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"]
    assert RESOURCES[dlq[0]]["Type"] == "AWS::SQS::Queue"
    assert dlq[1] == "Arn"
    retry = target["RetryPolicy"]
    assert 0 <= retry["MaximumRetryAttempts"] <= 185
    assert 60 <= retry["MaximumEventAgeInSeconds"] <= 86400


def test_dead_letter_queue_accepts_events_from_this_rule_only() -> None:
    queue = card_rule()["Properties"]["Targets"][0]["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    policies = [
        policy
        for policy in of_type("AWS::SQS::QueuePolicy").values()
        if {"Ref": queue} in policy["Properties"]["Queues"]
    ]
    assert len(policies) == 1
    (statement,) = policies[0]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == {"Fn::GetAtt": [card_rule_name(), "Arn"]}


# ---- the workflow -----------------------------------------------------------------------------------


def state_machines() -> dict[str, dict[str, Any]]:
    machines = of_type("AWS::Serverless::StateMachine")
    assert machines, "no state machine in the template"
    return machines


def definition_path(machine: dict[str, Any]) -> Path:
    return ROOT / machine["Properties"]["DefinitionUri"]


def test_every_asl_file_is_used_by_a_state_machine() -> None:
    used = {definition_path(machine).resolve() for machine in state_machines().values()}
    assert {path.resolve() for path in STATE_MACHINES.glob("*.asl.json")} <= used
    assert all(path.is_file() for path in used)


@pytest.mark.parametrize("name", sorted(of_type("AWS::Serverless::StateMachine")))
def test_definition_substitutions_match_the_placeholders(name: str) -> None:
    machine = state_machines()[name]
    text = definition_path(machine).read_text(encoding="utf-8")
    placeholders = set(re.findall(r"\$\{([^}]*)\}", text))
    substitutions = set(machine["Properties"].get("DefinitionSubstitutions", {}))
    assert placeholders == substitutions, (
        f"in the ASL only: {placeholders - substitutions}; in DefinitionSubstitutions only: "
        f"{substitutions - placeholders}"
    )


def all_state_sets(definition: dict[str, Any], where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every (StartAt, States) scope: the top level, Map processors/iterators, Parallel branches."""
    yield where or "top", definition
    for name, state in definition["States"].items():
        for key in ("ItemProcessor", "Iterator"):
            if key in state:
                yield from all_state_sets(state[key], f"{where}{name}.{key}/")
        for index, branch in enumerate(state.get("Branches", [])):
            yield from all_state_sets(branch, f"{where}{name}.Branches[{index}]/")


def transitions(state: dict[str, Any]) -> list[str]:
    targets = [state[key] for key in ("Next", "Default") if key in state]
    targets += [choice["Next"] for choice in state.get("Choices", [])]
    targets += [catch["Next"] for catch in state.get("Catch", [])]
    return targets


@pytest.mark.parametrize("path", sorted(STATE_MACHINES.glob("*.asl.json")), ids=lambda p: p.name)
def test_asl_is_json_and_every_transition_exists(path: Path) -> None:
    definition = json.loads(path.read_text(encoding="utf-8"))
    scopes = list(all_state_sets(definition))
    for scope, states in scopes:
        names = set(states["States"])
        assert states["StartAt"] in names, f"{scope}: StartAt {states['StartAt']}"
        reachable = {states["StartAt"]}
        frontier = [states["StartAt"]]
        while frontier:
            state = states["States"][frontier.pop()]
            for target in transitions(state):
                assert target in names, f"{scope}: transition to missing state {target!r}"
                if target not in reachable:
                    reachable.add(target)
                    frontier.append(target)
        assert reachable == names, f"{scope}: unreachable states {names - reachable}"
        for name, state in states["States"].items():
            if state["Type"] in {"Task", "Pass", "Wait", "Map", "Parallel"}:
                assert ("Next" in state) != bool(state.get("End")), f"{scope}{name}: needs exactly one of Next/End"
            if state["Type"] == "Choice":
                assert state["Choices"], f"{scope}{name}: a Choice without choices"


def test_asl_fails_with_an_error_for_unknown_moves() -> None:
    definition = json.loads((STATE_MACHINES / "promote_card.asl.json").read_text(encoding="utf-8"))
    next_move = definition["States"]["NextMove"]
    # A finished plan branches on its decision (revert, notify): the move itself is one of three.
    rules = [rule for choice in next_move["Choices"] for rule in choice.get("And", [choice])]
    moves = {rule["StringEquals"] for rule in rules if rule["Variable"] == "$.plan.next"}
    assert moves == {"apply", "wait", "done"}
    assert all(any(rule["Variable"] == "$.plan.next" for rule in c.get("And", [c])) for c in next_move["Choices"])
    assert definition["States"][next_move["Default"]]["Type"] == "Fail"


def test_ram_calls_in_the_asl_use_the_plans_client_token() -> None:
    text = (STATE_MACHINES / "promote_card.asl.json").read_text(encoding="utf-8")
    definition = json.loads(text)
    processor = definition["States"]["Apply"]["ItemProcessor"]["States"]
    for name in ("Associate", "Disassociate"):
        assert processor[name]["Parameters"]["ClientToken.$"] == "$.clientToken"
        assert processor[name]["Resource"].startswith("arn:aws:states:::aws-sdk:ram:")


# ---- sharing: read-write dev/test, read-only prod, one block per stage -----------------------------

MANAGED_PERMISSION = {"Fn::Sub": "arn:${AWS::Partition}:ram::aws:permission/AWSRAMPermissionSageMakerModelCards"}
READ_ONLY_PERMISSION = {
    "Fn::If": [
        "CreateReadOnlyPermission",
        {"Fn::GetAtt": ["ReadOnlyPermission", "Arn"]},
        {"Ref": "ReadOnlyPermissionArn"},
    ]
}


def shares() -> dict[str, dict[str, Any]]:
    found = of_type("AWS::RAM::ResourceShare")
    assert set(found) == {f"{stage}Share1" for stage in stage_names()}
    return found


def permission_actions() -> tuple[list[str], list[str]]:
    """The read-only permission's actions: (with export allowed, without)."""
    (permission,) = of_type("AWS::RAM::Permission").values()
    properties = permission["Properties"]
    assert properties["ResourceType"] == "sagemaker:ModelCard"
    template = properties["PolicyTemplate"]
    assert template["Effect"] == "Allow"
    assert "Resource" not in template
    assert "Principal" not in template
    condition, export, no_export = template["Action"]["Fn::If"]
    assert TEMPLATE["Conditions"][condition] == {"Fn::Equals": [{"Ref": "ReadOnlyAllowExport"}, "true"]}
    assert TEMPLATE["Parameters"]["ReadOnlyAllowExport"]["Default"] == "false"
    return as_list(export), as_list(no_export)


@pytest.mark.parametrize("branch", ["export", "no-export"])
def test_read_only_permission_grants_no_write_action(branch: str) -> None:
    export, no_export = permission_actions()
    actions = export if branch == "export" else no_export
    assert actions, "an empty permission"
    for action in actions:
        assert action.startswith("sagemaker:")
        assert "*" not in action
        verb = action.split(":", 1)[1]
        assert not any(word in verb for word in ("Update", "Delete", "Put")), action
        if "Create" in verb:
            assert branch == "export", f"{action} outside the export branch"
            assert verb == "CreateModelCardExportJob", action


def test_read_only_permission_is_describe_and_list_versions_plus_export_when_allowed() -> None:
    export, no_export = permission_actions()
    read = {"sagemaker:DescribeModelCard", "sagemaker:ListModelCardVersions"}
    assert set(no_export) == read
    assert set(export) == read | {"sagemaker:CreateModelCardExportJob", "sagemaker:DescribeModelCardExportJob"}


def share_permission(share: dict[str, Any], access: str) -> Any:
    """The permission a share gets for a stage of ``access``: its Select, evaluated as CloudFormation would."""
    (selection,) = share["Properties"]["PermissionArns"]
    index, choices = selection["Fn::Select"]
    mapping, key, attribute = index["Fn::FindInMap"]
    assert key["Ref"].endswith("Access"), key
    return choices[int(TEMPLATE["Mappings"][mapping][access][attribute])]


@pytest.mark.parametrize("stage", ["dev", "test", "prod"])
def test_each_stage_share_gets_the_permission_of_its_access(stage: str) -> None:
    share = shares()[f"{stage}Share1"]
    (selection,) = share["Properties"]["PermissionArns"]
    assert selection["Fn::Select"][0]["Fn::FindInMap"][1] == {"Ref": f"{stage}Access"}
    access = parameter_default(f"{stage}Access")
    expected = READ_ONLY_PERMISSION if access == "read-only" else MANAGED_PERMISSION
    assert share_permission(share, access) == expected
    assert access == ("read-only" if stage == "prod" else "read-write")


def test_read_only_access_can_never_select_the_writable_permission() -> None:
    """Attack: a read-only stage whose Select picked the managed (read-write) permission."""
    for share in shares().values():
        assert share_permission(share, "read-only") == READ_ONLY_PERMISSION
        assert share_permission(share, "read-write") == MANAGED_PERMISSION
    allowed = {stage: TEMPLATE["Parameters"][f"{stage}Access"]["AllowedValues"] for stage in stage_names()}
    assert all(set(values) == set(TEMPLATE["Mappings"]["AccessPermission"]) for values in allowed.values())


def test_the_read_only_permission_is_created_unless_one_is_given() -> None:
    assert RESOURCES["ReadOnlyPermission"].get("Condition") == "CreateReadOnlyPermission"
    assert TEMPLATE["Conditions"]["CreateReadOnlyPermission"] == {"Fn::Equals": [{"Ref": "ReadOnlyPermissionArn"}, ""]}
    assert TEMPLATE["Parameters"]["ReadOnlyPermissionArn"]["Default"] == ""


def test_shares_keep_external_principals_out_by_default() -> None:
    for name, share in shares().items():
        assert share["Properties"]["AllowExternalPrincipals"] == {"Ref": "AllowExternalPrincipals"}, name
    parameter = TEMPLATE["Parameters"]["AllowExternalPrincipals"]
    assert parameter["Default"] == "false"
    assert set(parameter["AllowedValues"]) == {"true", "false"}


@pytest.mark.parametrize("stage", ["dev", "test", "prod"])
def test_share_principals_come_from_their_stages_required_parameter(stage: str) -> None:
    principals = shares()[f"{stage}Share1"]["Properties"]["Principals"]
    assert principals == {"Fn::Split": [",", {"Ref": f"{stage}AccountIds"}]}
    parameter = TEMPLATE["Parameters"][f"{stage}AccountIds"]
    assert parameter["Type"] == "String"
    # No default: RAM refuses an empty principal, so a stage without accounts is a deploy error.
    assert "Default" not in parameter


def test_every_share_is_named_after_the_stack_stage_and_slot_and_tagged_with_the_stack() -> None:
    for name, share in shares().items():
        stage = name.removesuffix("Share1")
        assert share["Properties"]["Name"] == {"Fn::Sub": f"${{AWS::StackName}}-{stage}-1"}
        assert {"Key": "cardshare:stack", "Value": {"Ref": "AWS::StackName"}} in share["Properties"]["Tags"]


def test_each_stage_has_one_share_per_slot() -> None:
    template = load_template({"ShareSlots": "1,2,3"})
    found = {name for name, spec in template["Resources"].items() if spec["Type"] == "AWS::RAM::ResourceShare"}
    assert found == {f"{stage}Share{slot}" for stage in stage_names() for slot in "123"}
    assert template["Resources"]["prodShare3"]["Properties"]["Name"] == {"Fn::Sub": "${AWS::StackName}-prod-3"}


# ---- least privilege ----------------------------------------------------------------------------------


def statements() -> Iterator[tuple[str, dict[str, Any]]]:
    """Every IAM policy statement in the template, with the resource that holds it."""
    for name, resource in RESOURCES.items():
        properties = resource.get("Properties", {})
        documents: list[Any] = []
        if resource["Type"] in {"AWS::Serverless::Function", "AWS::Serverless::StateMachine"}:
            documents += [policy for policy in as_list(properties.get("Policies", [])) if "Statement" in policy]
        elif resource["Type"] == "AWS::IAM::Role":
            documents += [policy["PolicyDocument"] for policy in properties.get("Policies", [])]
        elif resource["Type"] in {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"}:
            documents.append(properties["PolicyDocument"])
        for document in documents:
            for statement in as_list(document["Statement"]):
                yield name, statement


def test_the_policy_walk_finds_statements() -> None:
    holders = {name for name, _ in statements()}
    assert {"PlanCardFunction", "PromoteCardStateMachine", "CardStateChangeRuleRole"} <= holders


def test_no_statement_denies_nothing_or_allows_every_action() -> None:
    for holder, statement in statements():
        for action in as_list(statement["Action"]):
            assert action != "*", f"{holder}: {action}"
            assert not action.endswith(":*"), f"{holder}: {action}"


RAM_READS = ("ram:Get", "ram:List")


SHARES_OF_THIS_ACCOUNT = {"Fn::Sub": "arn:${AWS::Partition}:ram:${AWS::Region}:${AWS::AccountId}:resource-share/*"}
THIS_STACKS_TAG = {"StringEquals": {"aws:ResourceTag/cardshare:stack": {"Ref": "AWS::StackName"}}}


def test_ram_write_actions_are_scoped_to_the_shares_tagged_with_this_stack() -> None:
    writes_seen = 0
    for holder, statement in statements():
        actions = [a for a in as_list(statement["Action"]) if a.startswith("ram:") and not a.startswith(RAM_READS)]
        if not actions:
            continue
        writes_seen += 1
        assert statement["Effect"] == "Allow"
        assert as_list(statement["Resource"]) == [SHARES_OF_THIS_ACCOUNT], f"{holder}: {actions}"
        # Attack: without the condition the role could change any share of the account.
        assert statement.get("Condition") == THIS_STACKS_TAG, f"{holder}: {actions} not limited to this stack"
        assert not any(a.startswith("ram:Delete") or a.startswith("ram:Update") for a in actions), holder
        assert not any(a.startswith("ram:Tag") or a.startswith("ram:Untag") for a in actions), holder
    assert writes_seen >= 1


MODEL_CARDS_OF_THIS_ACCOUNT = re.compile(
    r"^arn:\$\{AWS::Partition\}:sagemaker:\$\{AWS::Region\}:\$\{AWS::AccountId\}:model-card/[^:]*$"
)


# SageMaker list actions that support no resource-level permission: "*" is the only resource they take.
SAGEMAKER_UNSCOPED_LISTS = {"sagemaker:ListModelCards"}


def test_sagemaker_actions_are_scoped_to_this_accounts_model_cards() -> None:
    seen = set()
    for holder, statement in statements():
        actions = [a for a in as_list(statement["Action"]) if a.startswith("sagemaker:")]
        if not actions:
            continue
        seen.update(actions)
        if as_list(statement["Resource"]) == ["*"]:
            assert set(actions) <= SAGEMAKER_UNSCOPED_LISTS, f"{holder}: {actions} on *"
            continue
        for resource in as_list(statement["Resource"]):
            assert isinstance(resource, dict), f"{holder}: {actions} on {resource}"
            assert MODEL_CARDS_OF_THIS_ACCOUNT.match(resource["Fn::Sub"]), f"{holder}: {actions} on {resource}"
    assert "sagemaker:DescribeModelCard" in seen


PLAN_FUNCTION_READS = {
    "sagemaker:DescribeModelCard",
    "ram:GetResourceShareAssociations",
    "ram:ListResourceSharePermissions",  # the read-only guard on a read-only stage's share
    "ram:GetPermission",
    "dynamodb:GetItem",  # the card's evidence, when a round has no new fact
}


def test_plan_function_only_reads_besides_merging_evidence() -> None:
    actions = {a for holder, s in statements() if holder == "PlanCardFunction" for a in as_list(s["Action"])}
    # Its one write is ADD to the card's evidence set; the workflow does the rest.
    assert actions - PLAN_FUNCTION_READS == {"dynamodb:UpdateItem"}
    assert actions >= PLAN_FUNCTION_READS


def test_plan_function_touches_only_the_stacks_ledger_table() -> None:
    dynamodb = [
        s
        for holder, s in statements()
        if holder == "PlanCardFunction" and any(a.startswith("dynamodb:") for a in as_list(s["Action"]))
    ]
    (statement,) = dynamodb
    assert sorted(as_list(statement["Action"])) == ["dynamodb:GetItem", "dynamodb:UpdateItem"]
    assert statement["Resource"] == {"Fn::GetAtt": [ledger_table_name(), "Arn"]}


def test_the_state_machine_only_appends_to_the_ledger() -> None:
    actions = [
        (holder, a)
        for holder, s in statements()
        for a in as_list(s["Action"])
        if holder == "PromoteCardStateMachine" and a.startswith("dynamodb:")
    ]
    # No DeleteItem, UpdateItem or BatchWriteItem: decisions are only ever added.
    assert actions == [("PromoteCardStateMachine", "dynamodb:PutItem")]
    assert not any(
        p for p in RESOURCES["PromoteCardStateMachine"]["Properties"]["Policies"] if "DynamoDBWritePolicy" in p
    )


def put_item_states() -> dict[str, dict[str, Any]]:
    asl = json.loads((STATE_MACHINES / "promote_card.asl.json").read_text(encoding="utf-8"))
    return {name: state for name, state in asl["States"].items() if ":dynamodb:" in str(state.get("Resource", ""))}


def test_every_ledger_write_is_a_conditional_put_that_never_overwrites() -> None:
    states = put_item_states()
    asl = json.loads((STATE_MACHINES / "promote_card.asl.json").read_text(encoding="utf-8"))["States"]
    assert set(states) == {"Record", "RecordQuietly", "RecordFailure"}
    for name, state in states.items():
        assert state["Resource"].endswith(":dynamodb:putItem"), name
        assert state["Parameters"]["ConditionExpression"] == "attribute_not_exists(cardArn)", name
        # A retry whose first attempt landed finds its own item: that is success, not a failure.
        first = state["Catch"][0]
        assert first["ErrorEquals"] == ["DynamoDB.ConditionalCheckFailedException"], name
        if state.get("End"):
            # The record ends the execution: the catch ends it the same way, with the same output.
            found = asl[first["Next"]]
            assert (found["Type"], found.get("End"), found.get("OutputPath")) == ("Pass", True, state["OutputPath"])
            assert set(found) <= {"Type", "Comment", "OutputPath", "End"}, name
        else:
            assert first["Next"] == state["Next"], name


def test_the_table_policy_lets_only_the_stacks_roles_write_and_nobody_delete() -> None:
    policy = RESOURCES[ledger_table_name()]["Properties"]["ResourcePolicy"]["PolicyDocument"]
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    writers = by_sid["OnlyThisStacksRolesWrite"]
    assert writers["Effect"] == "Deny"
    assert writers["Principal"] == "*"
    assert {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem"} <= set(writers["Action"])
    (patterns,) = writers["Condition"]["ArnNotLike"].values()
    # SAM names each function's and the state machine's role <stack>-<LogicalId>Role-<suffix>: the
    # writers are exactly the roles of the resources that write (the plan function merges evidence,
    # the state machine puts decisions), and another stack's roles never match.
    writing = {"PlanCardFunction", "PromoteCardStateMachine"}
    assert {p["Fn::Sub"].rsplit(":role/", 1)[1] for p in patterns} == {
        f"${{AWS::StackName}}-{logical_id}Role-*" for logical_id in writing
    }
    for logical_id, spec in RESOURCES.items():
        statements = json.dumps(spec.get("Properties", {}).get("Policies", []))
        if spec["Type"] == "AWS::Serverless::Function" and "dynamodb:UpdateItem" in statements:
            assert logical_id in writing, logical_id

    def writes(role: str) -> bool:
        concrete = [
            p["Fn::Sub"]
            .replace("${AWS::Partition}", "aws")
            .replace("${AWS::AccountId}", "123456789012")
            .replace("${AWS::StackName}", "cardshare")
            for p in patterns
        ]
        return any(fnmatch.fnmatchcase(f"arn:aws:iam::123456789012:role/{role}", c) for c in concrete)

    # Attack: a stack whose name starts with this one's. Control: this stack's own writers.
    assert not writes("cardshare-staging-PlanCardFunctionRole-ABC")
    assert writes("cardshare-PlanCardFunctionRole-ABC")
    assert writes("cardshare-PromoteCardStateMachineRole-XYZ")
    assert not writes("cardshare-ReconcileFunctionRole-XYZ")


def test_the_evidence_item_sorts_before_every_decision() -> None:
    # Decisions are keyed by ISO time; '#' sorts before digits, so a newest-first query meets decisions first.
    assert EVIDENCE_KEY.startswith("#")
    assert EVIDENCE_KEY < "0"


def test_rule_role_may_only_start_the_state_machine() -> None:
    role = RESOURCES["CardStateChangeRuleRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    role_statements = [s for holder, s in statements() if holder == "CardStateChangeRuleRole"]
    assert role_statements == [
        {"Effect": "Allow", "Action": "states:StartExecution", "Resource": {"Ref": "PromoteCardStateMachine"}}
    ]


# ---- logs ----------------------------------------------------------------------------------------------


def test_every_log_group_has_a_retention() -> None:
    groups = of_type("AWS::Logs::LogGroup")
    assert groups
    for name, group in groups.items():
        assert group["Properties"].get("RetentionInDays") == {"Ref": "LogRetentionInDays"}, name
    assert (
        TEMPLATE["Parameters"]["LogRetentionInDays"]["Default"]
        in TEMPLATE["Parameters"]["LogRetentionInDays"]["AllowedValues"]
    )


def test_every_function_and_state_machine_logs_into_a_log_group_of_the_template() -> None:
    groups = of_type("AWS::Logs::LogGroup")
    for name, function in of_type("AWS::Serverless::Function").items():
        group = function["Properties"]["LoggingConfig"]["LogGroup"]
        assert group["Ref"] in groups, f"{name} logs into a group without retention"
    for name, machine in state_machines().items():
        for destination in machine["Properties"]["Logging"]["Destinations"]:
            group = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
            assert group in groups, f"{name} logs into a group without retention"


# ---- the function's configuration ------------------------------------------------------------------


def function_environment(function: str = "PlanCardFunction") -> dict[str, Any]:
    """A function's variables as SAM sets them: the Globals, overridden by the function's own."""
    shared = TEMPLATE.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    own = RESOURCES[function]["Properties"].get("Environment", {}).get("Variables", {})
    return {**shared, **own}


LADDER_BLOCK = re.compile(r"^CARDSHARE_(STAGE|SHARE)_")


def test_the_functions_set_every_variable_settings_reads() -> None:
    """Settings serve the plan function and the reconciler: together they set all it reads, nothing more."""
    source = (ROOT / "layers" / "cardshare" / "cardshare" / "settings.py").read_text(encoding="utf-8")
    read = set(re.findall(r'"(CARDSHARE_[A-Z_]+)"', source))
    assert "CARDSHARE_RECONCILE_GRACE_SECONDS" in read
    plan, reconciler = function_environment(), function_environment("ReconcileFunction")
    set_by_template = {name for name in {**plan, **reconciler} if name.startswith("CARDSHARE_")}
    per_stage = {name for name in set_by_template if re.match(r"^CARDSHARE_(STAGE|SHARE)_[a-z]", name)}
    assert per_stage == {f"CARDSHARE_STAGE_{s}" for s in stage_names()} | {
        f"CARDSHARE_SHARE_{s}_1" for s in stage_names()
    }
    # CARDSHARE_STAGES is declared empty: the one-document form env.json fills for sam local invoke.
    assert plan["CARDSHARE_STAGES"] == reconciler["CARDSHARE_STAGES"] == ""
    assert read == set_by_template - per_stage - {
        "CARDSHARE_DRY_RUN",  # the reconcile handler's own switch, not a setting
        "CARDSHARE_STATE_MACHINE_ARN",
    }
    # The reconciler's window is made of the plan function's waits, and it repairs against the same
    # ladder: the two must agree.
    for name in ("CARDSHARE_EVIDENCE_WAIT_SECONDS", "CARDSHARE_QUIET_SECONDS"):
        assert plan[name] == reconciler[name], name
    ladder = {name: value for name, value in plan.items() if LADDER_BLOCK.match(name)}
    assert ladder == {name: value for name, value in reconciler.items() if LADDER_BLOCK.match(name)}
    assert len(ladder) == 2 + 2 * len(stage_names())
    raw = [
        load_raw_template()["Resources"][f]["Properties"]["Environment"]["Variables"]
        for f in ("PlanCardFunction", "ReconcileFunction")
    ]
    assert raw[0]["Fn::ForEach::StageLadder"] == raw[1]["Fn::ForEach::StageLadder"], "one ladder block, copied alike"


def rendered_settings(overrides: dict[str, str], function: str = "PlanCardFunction") -> Settings:
    """The settings a function loads once CloudFormation has rendered its environment for ``overrides``.

    The local deployer's resolver stands in for CloudFormation, with placeholder ARNs for the
    resources (as its preflight does).
    """
    template = load_template(overrides)
    parameters = {f"{stage}AccountIds": "" for stage in stage_names()} | overrides
    resolver = Resolver(
        template,
        parameters,
        {"AWS::AccountId": ACCOUNT, "AWS::Region": "us-east-1", "AWS::StackName": "cardshare", "AWS::Partition": "aws"},
    )
    for name in template["Resources"]:
        resolver.refs[name] = f"arn:aws:ram:us-east-1:{ACCOUNT}:resource-share/{name.lower()}-1234"
        resolver.attributes[(name, "Arn")] = resolver.refs[name]
    spec = template["Resources"][function]["Properties"]
    variables = resolver.resolve(merge_globals(template, "Function", spec))["Environment"]["Variables"]
    return load_settings({**{k: str(v) for k, v in variables.items()}, "AWS_REGION": "us-east-1"})


def test_stages_the_template_renders_with_its_defaults_are_valid() -> None:
    settings = rendered_settings({})
    # The defaults are the gates' own defaults: the issue's required fields, no allow-list, alert,
    # and approvers from the model-card account only.
    expected = parse_gate_config(RawGateSettings(), ACCOUNT, GateConfig().evidence_wait_seconds)
    assert settings.gates == expected
    assert settings.gates.approver_accounts == frozenset({ACCOUNT})
    assert [stage.name for stage in settings.ladder.stages] == ["dev", "test", "prod"]
    assert [stage.access for stage in settings.ladder.stages] == [
        Access.READ_WRITE,
        Access.READ_WRITE,
        Access.READ_ONLY,
    ]
    assert all(stage.principals == () for stage in settings.ladder.stages)
    assert rendered_settings({}, "ReconcileFunction").ladder == settings.ladder


def test_a_stage_added_by_parameters_alone_joins_the_ladder_in_order() -> None:
    """A fourth stage is a name in Stages plus its parameters: no other change."""
    template = load_raw_template()
    template["Parameters"] |= {
        "stagingAccountIds": {"Type": "String"},
        "stagingStatuses": {"Type": "String", "Default": "Approved"},
        "stagingAccess": {"Type": "String", "Default": "read-only", "AllowedValues": ["read-write", "read-only"]},
    }
    expanded = expand(template, {"Stages": ["dev", "test", "staging", "prod"], "ShareSlots": ["1"]})
    principals = expanded["Resources"]["stagingShare1"]["Properties"]["Principals"]
    assert principals == {"Fn::Split": [",", {"Ref": "stagingAccountIds"}]}
    variables = expanded["Resources"]["PlanCardFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["CARDSHARE_SHARE_staging_1"] == {"Fn::GetAtt": ["stagingShare1", "Arn"]}
    assert "stagingShare1Arn" in expanded["Outputs"]


def samconfig_overrides() -> dict[str, dict[str, str]]:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    result = {}
    for env, commands in config.items():
        if not isinstance(commands, dict) or "deploy" not in commands:
            continue
        overrides = commands["deploy"]["parameters"].get("parameter_overrides", [])
        result[env] = dict(item.split("=", 1) for item in as_list(overrides))
    return result


def test_samconfig_environments_give_a_valid_ladder() -> None:
    environments = samconfig_overrides()
    assert environments
    for env, overrides in environments.items():
        assert set(overrides) <= set(TEMPLATE["Parameters"]), f"{env}: unknown parameter"
        ladder = rendered_settings(overrides).ladder
        assert [stage.name for stage in ladder.stages] == stage_names(), env
        assert all(stage.principals for stage in ladder.stages), f"{env}: a stage without accounts"

        def value(parameter: str, overrides: dict[str, str] = overrides) -> str:
            return str(overrides.get(parameter, TEMPLATE["Parameters"][parameter]["Default"]))

        gates = parse_gate_config(
            RawGateSettings(
                required_fields=value("ReviewRequiredFields"),
                approvers=value("ApproverAllowList"),
                approver_accounts=value("ApproverAccountIds"),
                enforcement=value("ApprovalEnforcement"),
                content_edit_events=value("ContentEditEvents"),
            ),
            ACCOUNT,
            int(value("EvidenceWaitSeconds")),
        )
        # Examples name exact roles in one account: no wildcard anywhere in an allow-list entry.
        assert all("*" not in pattern for pattern in gates.approver_patterns), env


# ---- governance: the ledger and the topic ---------------------------------------------------------------


def ledger_table_name() -> str:
    (name,) = of_type("AWS::DynamoDB::Table")
    return name


def test_the_ledger_is_queried_by_card_in_time_order() -> None:
    table = RESOURCES[ledger_table_name()]["Properties"]
    assert table["KeySchema"] == [
        {"AttributeName": "cardArn", "KeyType": "HASH"},
        {"AttributeName": "decidedAt", "KeyType": "RANGE"},
    ]
    assert {(a["AttributeName"], a["AttributeType"]) for a in table["AttributeDefinitions"]} == {
        ("cardArn", "S"),
        ("decidedAt", "S"),
    }


def test_the_ledger_survives_mistakes() -> None:
    resource = RESOURCES[ledger_table_name()]
    table = resource["Properties"]
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["SSESpecification"]["SSEEnabled"] is True
    assert table.get("DeletionProtectionEnabled") is True or resource.get("DeletionPolicy") == "Retain"
    assert resource.get("DeletionPolicy") == "Retain"
    assert resource.get("UpdateReplacePolicy") == "Retain"


def test_every_topic_is_encrypted() -> None:
    topics = of_type("AWS::SNS::Topic")
    assert {"DecisionsTopic", "AlarmTopic"} <= set(topics)
    for name, topic in topics.items():
        assert topic["Properties"].get("KmsMasterKeyId"), name


def test_every_end_after_the_plan_passes_a_ledger_record() -> None:
    """Every execution ends in exactly one decision; only the two ends that have nothing to record skip it."""
    asl = json.loads((STATE_MACHINES / "promote_card.asl.json").read_text(encoding="utf-8"))["States"]
    releases = set(put_item_states())

    def moves(state: dict[str, Any]) -> list[str]:
        targets = [state.get("Next"), state.get("Default")]
        targets += [c["Next"] for c in state.get("Choices", [])] + [c["Next"] for c in state.get("Catch", [])]
        return [target for target in targets if target]

    unreleased, seen, todo = set(), set(), ["Plan"]
    while todo:
        name = todo.pop()
        if name in seen or name in releases:
            continue
        seen.add(name)
        if asl[name]["Type"] in {"Succeed", "Fail"} or asl[name].get("End"):
            unreleased.add(name)
        todo += moves(asl[name])
    assert unreleased == {"UnknownMove", "FailedUndescribed"}


# ---- the template reader (cfn-lint's decoder): short-form tags in their long form ---------------

# One case per short-form tag the template uses, each a line of template.yaml and the long form the
# deploy's resolver reads there. The line must still be in the template, so the case stays real.
LADDER = ("Resources", "PlanCardFunction", "Properties", "Environment", "Variables", "Fn::ForEach::StageLadder")
SHARES = ("Resources", "Fn::ForEach::StageShares", 2, "Fn::ForEach::Slots", 2, "${Stage}Share${Slot}", "Properties")
TAG_CASES = [
    pytest.param(
        "CARDSHARE_LEDGER_TABLE: !Ref DecisionLedgerTable",
        ("Globals", "Function", "Environment", "Variables", "CARDSHARE_LEDGER_TABLE"),
        {"Ref": "DecisionLedgerTable"},
        id="Ref",
    ),
    pytest.param(
        "- !If [CreateReadOnlyPermission, !GetAtt ReadOnlyPermission.Arn, !Ref ReadOnlyPermissionArn]",
        (*SHARES, "PermissionArns", 0, "Fn::Select", 1, 1),
        READ_ONLY_PERMISSION,
        id="GetAtt-dotted",
    ),
    pytest.param(
        'Name: !Sub "${AWS::StackName}-${Stage}-${Slot}"',
        (*SHARES, "Name"),
        {"Fn::Sub": "${AWS::StackName}-${Stage}-${Slot}"},
        id="Sub-string",
    ),
    pytest.param(
        'CARDSHARE_REQUIRED_FIELDS: !Join [",", !Ref ReviewRequiredFields]',
        ("Resources", "PlanCardFunction", "Properties", "Environment", "Variables", "CARDSHARE_REQUIRED_FIELDS"),
        {"Fn::Join": [",", {"Ref": "ReviewRequiredFields"}]},
        id="Join",
    ),
    pytest.param(
        "AlarmActions: [!If [CreateAlarmTopic, !Ref AlarmTopic, !Ref AlarmTopicArn]]",
        ("Resources", "FailedExecutionsAlarm", "Properties", "AlarmActions", 0),
        {"Fn::If": ["CreateAlarmTopic", {"Ref": "AlarmTopic"}, {"Ref": "AlarmTopicArn"}]},
        id="If",
    ),
    pytest.param(
        'CreateReadOnlyPermission: !Equals [!Ref ReadOnlyPermissionArn, ""]',
        ("Conditions", "CreateReadOnlyPermission"),
        {"Fn::Equals": [{"Ref": "ReadOnlyPermissionArn"}, ""]},
        id="Equals",
    ),
    pytest.param(
        '- !FindInMap [AccessPermission, !Ref {"Fn::Sub": "${Stage}Access"}, Index]',
        (*SHARES, "PermissionArns", 0, "Fn::Select", 0),
        {"Fn::FindInMap": ["AccessPermission", {"Ref": {"Fn::Sub": "${Stage}Access"}}, "Index"]},
        id="FindInMap",
    ),
    pytest.param(
        'Principals: !Split [",", !Ref {"Fn::Sub": "${Stage}AccountIds"}]',
        (*SHARES, "Principals"),
        {"Fn::Split": [",", {"Ref": {"Fn::Sub": "${Stage}AccountIds"}}]},
        id="Split",
    ),
    pytest.param(
        "- !Select",
        (*SHARES, "PermissionArns", 0, "Fn::Select", 1, 0),
        MANAGED_PERMISSION,
        id="Select",
    ),
]


def at(document: Any, path: tuple[str | int, ...]) -> Any:
    for key in path:
        document = document[key]
    return document


@pytest.mark.parametrize(("line", "path", "long_form"), TAG_CASES)
def test_short_form_tags_read_as_their_long_form(line: str, path: tuple[str | int, ...], long_form: Any) -> None:
    assert line in (ROOT / "template.yaml").read_text(encoding="utf-8"), "the case is no longer in the template"
    assert at(load_raw_template(), path) == long_form


def test_every_tag_the_template_uses_has_a_case() -> None:
    used = set(re.findall(r"!([A-Za-z]+)\b", (ROOT / "template.yaml").read_text(encoding="utf-8")))
    covered = {str(case.id).split("-")[0] for case in TAG_CASES}
    assert used <= covered, f"tags without a case: {sorted(used - covered)}"


def test_sub_with_a_variable_map_is_a_text_and_a_mapping() -> None:
    """The block form ``!Sub [text, {name: value}]`` that renders each stage's CARDSHARE_STAGE_<stage>."""
    _, _, fragment = at(load_raw_template(), LADDER)
    text, variables = fragment["CARDSHARE_STAGE_${Stage}"]["Fn::Sub"]
    assert text == '{"access":"${Access}","principals":"${Principals}","statuses":"${Grants}"}'
    assert variables["Grants"] == {"Ref": {"Fn::Sub": "${Stage}Statuses"}}
    assert variables["Access"] == {"Ref": {"Fn::Sub": "${Stage}Access"}}


def test_the_reader_returns_plain_python_types() -> None:
    """The decoder's position-carrying subclasses do not leak: callers copy, compare and serialise."""

    def plain(value: Any) -> bool:
        if type(value) is dict:
            return all(type(key) is str and plain(item) for key, item in value.items())
        if type(value) is list:
            return all(plain(item) for item in value)
        return type(value) in {str, int, float, bool, type(None)}

    assert plain(parse_template((ROOT / "template.yaml").read_text(encoding="utf-8")))


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        pytest.param("Resources:\n  A:\n    Type: [x\n  B: 1\n", 4, "expected ',' or ']'", id="unclosed-flow-list"),
        pytest.param("Resources:\n  A: 1\n  A: 2\n", 2, "Duplicate found 'A'", id="duplicate-key"),
        pytest.param("Resources:\n  A:\n    Name: !Sbu x\n", 3, "unknown intrinsic function Fn::Sbu", id="typo-tag"),
    ],
)
def test_a_malformed_template_is_one_line_naming_file_and_line(tmp_path: Path, text: str, line: int, says: str) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TemplateError) as raised:
        read_template_file(path)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: line {line}: ")
    assert says in message


def test_a_document_without_resources_is_not_a_template() -> None:
    with pytest.raises(TemplateError, match="no Resources"):
        parse_template("Parameters: {}\n")


@pytest.mark.parametrize("stage", ["dev", "test", "prod"])
def test_a_stages_free_text_parameters_cannot_carry_json(stage: str) -> None:
    """Attack: prodStatuses = 'Approved","access":"read-write' would inject a key into CARDSHARE_STAGE_prod."""
    for suffix, legitimate in (
        ("Statuses", "Approved,Archived"),
        ("AccountIds", "111111111111,arn:aws:organizations::123456789012:ou/o-abcdefghij/ou-ab12-cdefgh34"),
    ):
        pattern = TEMPLATE["Parameters"][f"{stage}{suffix}"]["AllowedPattern"]
        assert re.fullmatch(pattern, legitimate), (suffix, legitimate)
        for injected in ('Approved","access":"read-write', "a\\b", "a}"):
            assert not re.fullmatch(pattern, injected), (suffix, injected)
