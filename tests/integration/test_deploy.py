"""The local deployer reads the real template.yaml: what the template says is what the embedded AWS runs.

Each check reads the deployed resource back through its AWS API and compares it with the template
(as data) and the parameters, so a template change shows up as a local behaviour change.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from template_loader import load_template

from cardshare.policy import Access, ConfigError
from cardshare.settings import load_settings
from cardshare.status import CardStatus
from cardshare_local.accounts import DEV_ACCOUNT, MODEL_CARD_ACCOUNT, PROD_ACCOUNT, REGION, TEST_ACCOUNT, stage_account
from cardshare_local.extensions import ram as ram_ext
from cardshare_local.runtime import LOCAL_PARAMETERS, PLAN_FUNCTION, LocalAws, deploy_local, local_aws
from cardshare_local.template import TemplateError

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template()
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]
SHARES = {"dev": "devShare1", "test": "testShare1", "prod": "prodShare1"}
MANAGED = ram_ext.MODEL_CARD_PERMISSION_ARN
MANAGED_EXPORT = ram_ext.MODEL_CARD_EXPORT_PERMISSION_ARN


def resolve_refs(value: Any, refs: dict[str, Any]) -> Any:
    """Replace ``{"Ref": X}`` with ``refs[X]`` wherever it appears."""
    if isinstance(value, dict):
        if set(value) == {"Ref"}:
            return refs[value["Ref"]]
        return {key: resolve_refs(item, refs) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve_refs(item, refs) for item in value]
    return value


def principals_of(system: LocalAws, share_arn: str) -> set[str]:
    rows = (
        system.session()
        .client("ram")
        .get_resource_share_associations(associationType="PRINCIPAL", resourceShareArns=[share_arn])[
            "resourceShareAssociations"
        ]
    )
    return {row["associatedEntity"] for row in rows if row["status"] != "DISASSOCIATED"}


def permissions_of(system: LocalAws, share_arn: str) -> list[str]:
    ram = system.session().client("ram")
    return [p["arn"] for p in ram.list_resource_share_permissions(resourceShareArn=share_arn)["permissions"]]


def customer_managed_permissions(system: LocalAws) -> list[str]:
    permissions = system.session().client("ram").list_permissions()["permissions"]
    return [p["arn"] for p in permissions if p["permissionType"] == "CUSTOMER_MANAGED"]


# ---- the stack as `make demo` and the tests deploy it ---------------------------------------------------


@pytest.fixture(scope="class")
def system() -> Iterator[LocalAws]:
    with local_aws() as deployed:
        yield deployed


class TestTheDefaultDeploy:
    def test_the_rule_pattern_is_the_templates_with_this_account(self, system: LocalAws) -> None:
        spec = RESOURCES["CardStateChangeRule"]["Properties"]
        events = system.session().client("events")

        rule = events.describe_rule(Name=system.stack.resources["CardStateChangeRule"])

        expected = resolve_refs(spec["EventPattern"], {"AWS::AccountId": MODEL_CARD_ACCOUNT})
        assert json.loads(rule["EventPattern"]) == expected
        assert expected["account"] == [MODEL_CARD_ACCOUNT]
        assert rule["State"] == spec["State"] == "ENABLED"

    def test_the_rule_targets_the_workflow_with_the_dead_letter_queue_and_retry_policy(self, system: LocalAws) -> None:
        (spec,) = RESOURCES["CardStateChangeRule"]["Properties"]["Targets"]
        session = system.session()
        resources = system.stack.resources
        queue_arn = session.client("sqs").get_queue_attributes(
            QueueUrl=resources["CardEventsDeadLetterQueue"], AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        role_arn = session.client("iam").get_role(RoleName=resources["CardStateChangeRuleRole"])["Role"]["Arn"]

        (target,) = session.client("events").list_targets_by_rule(Rule=resources["CardStateChangeRule"])["Targets"]

        assert target["Id"] == spec["Id"]
        assert target["Arn"] == system.state_machine_arn == resources["PromoteCardStateMachine"]
        assert target["RoleArn"] == role_arn
        assert target["DeadLetterConfig"] == {"Arn": queue_arn}
        assert target["RetryPolicy"] == spec["RetryPolicy"]

    def test_the_dead_letter_queue_takes_messages_from_the_rule_only(self, system: LocalAws) -> None:
        session = system.session()
        rule_arn = session.client("events").describe_rule(Name=system.stack.resources["CardStateChangeRule"])["Arn"]
        attributes = session.client("sqs").get_queue_attributes(
            QueueUrl=system.stack.resources["CardEventsDeadLetterQueue"], AttributeNames=["All"]
        )["Attributes"]

        (statement,) = json.loads(attributes["Policy"])["Statement"]
        assert statement["Resource"] == attributes["QueueArn"]
        assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": rule_arn}}
        assert attributes["SqsManagedSseEnabled"] == "true"

    @pytest.mark.parametrize("stage", list(SHARES))
    def test_each_share_has_its_parameters_principals(self, system: LocalAws, stage: str) -> None:
        arn = system.stack.resources[SHARES[stage]]
        listed = system.session().client("ram").get_resource_shares(resourceOwner="SELF")["resourceShares"]
        # The local RAM ignores GetResourceShares' resourceShareArns filter (see the report): filter here.
        (share,) = [s for s in listed if s["resourceShareArn"] == arn]

        assert share["name"] == f"cardshare-{stage}-1"
        assert share["allowExternalPrincipals"] is False
        assert principals_of(system, arn) == {stage_account(stage)}
        assert system.share_arns[stage] == arn == system.stack.outputs[f"{SHARES[stage]}Arn"]

    def test_dev_and_test_use_the_managed_permission_and_prod_the_stacks_read_only_one(self, system: LocalAws) -> None:
        permission = system.stack.resources["ReadOnlyPermission"]
        ram = system.session().client("ram")

        assert permissions_of(system, system.share_arns["dev"]) == [MANAGED]
        assert permissions_of(system, system.share_arns["test"]) == [MANAGED]
        assert permissions_of(system, system.share_arns["prod"]) == [permission]
        assert customer_managed_permissions(system) == [permission]
        assert system.stack.outputs["ReadOnlyPermission"] == permission
        document = json.loads(ram.get_permission(permissionArn=permission)["permission"]["permission"])
        assert sorted(document["Action"]) == ["sagemaker:DescribeModelCard", "sagemaker:ListModelCardVersions"]

    def test_the_state_machine_definition_has_every_substitution_resolved(self, system: LocalAws) -> None:
        spec = RESOURCES["PromoteCardStateMachine"]["Properties"]
        session = system.session()
        resources = system.stack.resources

        def deployed_value(value: dict[str, Any]) -> str:
            if "Ref" in value:
                return str(resources[value["Ref"]])
            logical_id, attribute = value["Fn::GetAtt"]
            assert RESOURCES[logical_id]["Type"] == "AWS::Serverless::Function"
            assert attribute == "Arn"
            configuration = session.client("lambda").get_function_configuration(FunctionName=resources[logical_id])
            return str(configuration["FunctionArn"])

        substitutions = {name: deployed_value(value) for name, value in spec["DefinitionSubstitutions"].items()}
        asl = (ROOT / spec["DefinitionUri"]).read_text(encoding="utf-8")
        expected = re.sub(r"\$\{(\w+)\}", lambda m: substitutions[m.group(1)], asl)

        definition = session.client("stepfunctions").describe_state_machine(stateMachineArn=system.state_machine_arn)[
            "definition"
        ]

        assert "${" not in definition
        assert json.loads(definition) == json.loads(expected)
        plan = json.loads(definition)["States"]["Plan"]["Parameters"]["FunctionName"]
        assert plan == substitutions["PlanCardFunctionArn"]
        assert plan.endswith(f":function:{resources[PLAN_FUNCTION]}")

    def test_the_functions_environment_is_a_valid_ladder_of_the_parameters(self, system: LocalAws) -> None:
        configuration = (
            system.session()
            .client("lambda")
            .get_function_configuration(FunctionName=system.stack.resources[PLAN_FUNCTION])
        )
        variables = configuration["Environment"]["Variables"]

        settings = load_settings({**variables, "AWS_REGION": REGION})

        assert settings.account == MODEL_CARD_ACCOUNT
        assert [stage.name for stage in settings.ladder.stages] == ["dev", "test", "prod"]
        assert [stage.access for stage in settings.ladder.stages] == [
            Access.READ_WRITE,
            Access.READ_WRITE,
            Access.READ_ONLY,
        ]
        assert {stage.name: stage.principals for stage in settings.ladder.stages} == {
            "dev": (DEV_ACCOUNT,),
            "test": (TEST_ACCOUNT,),
            "prod": (PROD_ACCOUNT,),
        }
        assert {stage.name: stage.share_arns for stage in settings.ladder.stages} == {
            stage: (system.stack.resources[logical_id],) for stage, logical_id in SHARES.items()
        }
        parameters = TEMPLATE["Parameters"]
        for stage, parameter in (("dev", "devStatuses"), ("test", "testStatuses"), ("prod", "prodStatuses")):
            expected = {CardStatus(s) for s in str(parameters[parameter]["Default"]).split(",")}
            assert next(s for s in settings.ladder.stages if s.name == stage).statuses == expected
        assert settings.limits.poll_seconds == int(LOCAL_PARAMETERS["PollIntervalSeconds"])
        assert settings.limits.max_polls == int(parameters["MaxPolls"]["Default"])
        assert settings.limits.max_rounds == int(parameters["MaxConvergeRounds"]["Default"])
        assert settings.ledger_table == system.stack.resources["DecisionLedgerTable"]
        # Globals reach the function too.
        assert variables["POWERTOOLS_SERVICE_NAME"] == system.stack.name
        # The log level reaches the function through LoggingConfig only (AWS_LAMBDA_LOG_LEVEL).
        assert "POWERTOOLS_LOG_LEVEL" not in variables

    def test_every_log_group_keeps_logs_as_the_template_says(self, system: LocalAws) -> None:
        retention = int(TEMPLATE["Parameters"]["LogRetentionInDays"]["Default"])
        logs = system.session().client("logs")
        names = [system.stack.resources[n] for n, r in RESOURCES.items() if r["Type"] == "AWS::Logs::LogGroup"]
        assert names

        for name in names:
            (group,) = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
            assert group.get("retentionInDays") == retention, name


# ---- parameters change what is deployed -----------------------------------------------------------------


def test_parameters_reach_the_shares_the_permission_and_the_function() -> None:
    parameters = {
        "devAccountIds": f"{DEV_ACCOUNT},{TEST_ACCOUNT}",
        "ReadOnlyPermissionArn": MANAGED_EXPORT,
        "LogRetentionInDays": "7",
    }
    with local_aws(parameters) as system:
        dev_share = system.share_arns["dev"]

        assert principals_of(system, dev_share) == {DEV_ACCOUNT, TEST_ACCOUNT}
        assert principals_of(system, system.share_arns["test"]) == {TEST_ACCOUNT}
        # No customer managed permission: prod uses the ARN given.
        assert "ReadOnlyPermission" not in system.stack.resources
        assert customer_managed_permissions(system) == []
        assert permissions_of(system, system.share_arns["prod"]) == [MANAGED_EXPORT]
        assert system.stack.outputs["ReadOnlyPermission"] == MANAGED_EXPORT
        dev = next(stage for stage in system.settings().ladder.stages if stage.name == "dev")
        assert dev.principals == (DEV_ACCOUNT, TEST_ACCOUNT)
        (group,) = (
            system.session()
            .client("logs")
            .describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{system.stack.resources[PLAN_FUNCTION]}")["logGroups"]
        )
        assert group["retentionInDays"] == 7


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"DevAccountId": DEV_ACCOUNT}, "unknown parameter(s): DevAccountId"),
        ({"AllowExternalPrincipals": "yes"}, "parameter AllowExternalPrincipals: 'yes' is not one of"),
        ({"prodStatuses": 'Approved","access":"read-write'}, "parameter prodStatuses: "),
    ],
    ids=["unknown-name", "not-an-allowed-value", "json-injection"],
)
def test_bad_parameters_are_rejected(parameters: dict[str, str], message: str) -> None:
    with pytest.raises(TemplateError) as raised, local_aws(parameters):
        pass
    assert str(raised.value).startswith(message)


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"devAccountIds": "12345"}, r"stages\[0\] \(dev\)\.principals: '12345' is not a 12-digit account ID"),
        (
            {"testAccountIds": "arn:aws:organizations::123456789012:ou/o-bad/ou-x"},
            r"stages\[1\] \(test\)\.principals: .*ou-x' is not",
        ),
        ({"ApproverAllowList": "arn:aws:iam::*:role/ModelApprover"}, r"^ApproverAllowList \(CARDSHARE_APPROVERS\)"),
        ({"ApproverAccountIds": "dev"}, r"^ApproverAccountIds \(CARDSHARE_APPROVER_ACCOUNTS\): 'dev'"),
    ],
    ids=["account-id", "ou-arn", "wildcard-approver-account", "approver-account"],
)
def test_bad_settings_fail_before_any_resource_exists(parameters: dict[str, str], message: str) -> None:
    with mock_aws():
        with pytest.raises(ConfigError, match=message):
            deploy_local(parameters)
        ram = boto3.client("ram", region_name=REGION)
        assert ram.get_resource_shares(resourceOwner="SELF")["resourceShares"] == []
        assert boto3.client("dynamodb", region_name=REGION).list_tables()["TableNames"] == []


def test_share_slots_beyond_what_a_functions_environment_holds_fail_the_deploy_as_lambda_would() -> None:
    """Each slot adds a variable per stage; Lambda caps a function's variables at 4 KB (README: fleet size)."""
    with local_aws({"ShareSlots": ",".join(str(slot) for slot in range(1, 9))}) as system:
        assert len(system.settings().ladder.stages[0].share_arns) == 8
    with pytest.raises(ClientError) as refused, local_aws({"ShareSlots": ",".join(str(slot) for slot in range(1, 10))}):
        pass
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "exceeded the 4KB limit" in refused.value.response["Error"]["Message"]


# ---- a changed copy of the template -------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """What the deployer reads, copied: template.yaml, statemachines/, functions/ and layers/."""
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy2(ROOT / "template.yaml", root / "template.yaml")
    for folder in ("statemachines", "functions", "layers"):
        shutil.copytree(ROOT / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def test_a_resource_type_the_local_runtime_lacks_fails_the_deploy(project: Path) -> None:
    template = project / "template.yaml"
    text = template.read_text(encoding="utf-8")
    # Named to sort first among resources that depend on nothing, so the deploy meets it at once.
    added = "Resources:\n  AaaReportsBucket:\n    Type: AWS::S3::Bucket\n\n"
    template.write_text(text.replace("Resources:\n", added, 1), encoding="utf-8")

    with pytest.raises(TemplateError) as raised, local_aws(root=project):
        pass
    assert "AaaReportsBucket" in str(raised.value)
    assert "AWS::S3::Bucket" in str(raised.value)


def test_a_placeholder_without_a_substitution_fails_the_deploy(project: Path) -> None:
    asl = project / "statemachines" / "promote_card.asl.json"
    definition = json.loads(asl.read_text(encoding="utf-8"))
    definition["States"]["Plan"]["Parameters"]["Payload"]["stack"] = "${Missing}"
    asl.write_text(json.dumps(definition, indent=2), encoding="utf-8")

    with pytest.raises(TemplateError) as raised, local_aws(root=project):
        pass
    assert str(raised.value) == "PromoteCardStateMachine: no DefinitionSubstitutions for Missing"
