"""Deploying template.yaml onto the embedded AWS, resource by resource, through the AWS APIs.

moto's own CloudFormation skips RAM shares and permissions, ignores DefinitionSubstitutions and
hides state machines from the executing interpreter, so the stack is created here instead: the
template is read, its intrinsics resolved, and each resource created with the same API a
CloudFormation handler would call. A resource type this module does not know fails the deploy,
so the template cannot grow something that silently does not exist locally.
"""

from __future__ import annotations

import io
import json
import re
import uuid
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from cardshare.settings import load_settings
from cardshare_local.extensions import lambda_inprocess
from cardshare_local.language_extensions import expand, uses_language_extensions
from cardshare_local.template import Resolver, TemplateError, load_template, references

_ASL_VARIABLE = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


@dataclass
class Stack:
    """What a local deploy created: physical IDs, attributes and outputs by logical ID."""

    name: str
    account: str
    region: str
    parameters: dict[str, Any]
    resources: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, dict[str, str]] = field(default_factory=dict)


def merge_globals(template: Mapping[str, Any], kind: str, properties: Mapping[str, Any]) -> dict[str, Any]:
    """A resource's properties as SAM merges them with ``Globals`` (maps merge, the resource's keys win)."""
    merged = dict(template.get("Globals", {}).get(kind, {}))
    for key, value in properties.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
            if key == "Environment":
                merged[key]["Variables"] = {
                    **template["Globals"][kind]["Environment"].get("Variables", {}),
                    **value.get("Variables", {}),
                }
        else:
            merged[key] = value
    return merged


def _order(template: Mapping[str, Any]) -> list[str]:
    """Logical IDs in dependency order (Ref, GetAtt, Sub, DependsOn, and Globals for SAM types)."""
    resources = template["Resources"]
    globals_refs = {kind: references(section) for kind, section in template.get("Globals", {}).items()}

    def needs(spec: Mapping[str, Any]) -> set[str]:
        found = references(spec.get("Properties", {})) | set(_list(spec.get("DependsOn", [])))
        if spec["Type"].startswith("AWS::Serverless::"):
            found |= globals_refs.get(spec["Type"].split("::")[-1], set())
        return found & set(resources)

    pending = {name: needs(spec) for name, spec in resources.items()}
    ordered: list[str] = []
    while pending:
        ready = sorted(name for name, needs in pending.items() if not needs - set(ordered))
        if not ready:
            raise TemplateError(f"circular references between {', '.join(sorted(pending))}")
        for name in ready:
            ordered.append(name)
            del pending[name]
    return ordered


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _text(value: Any) -> str:
    """A resolved value as CloudFormation shows it: a list comma-separated."""
    return ",".join(str(item) for item in value) if isinstance(value, list) else str(value)


def _placeholder_zip() -> bytes:
    # moto stores a code package; the in-process runner executes the real source instead.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "# runs in-process from the project's functions/ folder\n")
    return buffer.getvalue()


class Deployer:
    """Creates a template's resources in one account and region of the embedded AWS."""

    def __init__(self, root: Path, session: boto3.Session, stack_name: str, account: str, region: str) -> None:
        self.root = root
        self.session = session
        self.stack_name = stack_name
        self.account = account
        self.region = region
        self._clients: dict[str, Any] = {}
        self._handlers: dict[str, Callable[[str, dict[str, Any], Resolver], None]] = {
            "AWS::RAM::Permission": self._ram_permission,
            "AWS::RAM::ResourceShare": self._ram_share,
            "AWS::Serverless::LayerVersion": self._layer,
            "AWS::Logs::LogGroup": self._log_group,
            "AWS::Serverless::Function": self._function,
            "AWS::Lambda::Function": self._lambda_function,
            "AWS::Lambda::Permission": self._lambda_permission,
            "AWS::Serverless::StateMachine": self._state_machine,
            "AWS::SQS::Queue": self._queue,
            "AWS::SQS::QueuePolicy": self._queue_policy,
            "AWS::IAM::Role": self._role,
            "AWS::IAM::ManagedPolicy": self._managed_policy,
            "AWS::Events::Rule": self._rule,
            "AWS::CloudWatch::Alarm": self._alarm,
            "AWS::DynamoDB::Table": self._table,
            "AWS::SNS::Topic": self._topic,
            "AWS::KMS::Key": self._kms_key,
            "AWS::CloudWatch::Dashboard": self._dashboard,
            "AWS::Logs::QueryDefinition": self._query_definition,
        }
        self._layers: dict[str, Path] = {}
        self._template: dict[str, Any] = {}
        self.stack: Stack | None = None

    @property
    def _deployed(self) -> Stack:
        """The stack being deployed (resources are created only inside ``deploy``)."""
        if self.stack is None:
            raise RuntimeError("no stack is being deployed")
        return self.stack

    def client(self, service: str) -> Any:
        """A client of the deploying session (cached)."""
        if service not in self._clients:
            factory: Any = self.session.client  # the stubs type the service name as a literal per service
            self._clients[service] = factory(service, region_name=self.region)
        return self._clients[service]

    def deploy(self, template_path: Path, parameters: Mapping[str, str]) -> Stack:
        """Create every resource of the template whose condition holds; return the stack."""
        raw = load_template(template_path)
        pseudo = {
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::Partition": "aws",
            "AWS::StackName": self.stack_name,
            "AWS::URLSuffix": "amazonaws.com",
        }
        self._template = raw
        if uses_language_extensions(raw):
            self._template = expand(raw, Resolver(raw, parameters, pseudo).parameters)
        resolver = Resolver(self._template, parameters, pseudo)
        self._preflight(Resolver(self._template, parameters, pseudo))
        self.stack = Stack(self.stack_name, self.account, self.region, dict(resolver.parameters))
        resources = self._template["Resources"]
        for logical_id in _order(self._template):
            spec = resources[logical_id]
            if "Condition" in spec and not resolver.condition(spec["Condition"]):
                continue
            handler = self._handlers.get(spec["Type"])
            if handler is None:
                raise TemplateError(f"{logical_id}: resource type {spec['Type']} is not supported by the local runtime")
            handler(logical_id, spec, resolver)
            self.stack.resources[logical_id] = resolver.refs.get(logical_id)
        for name, output in self._template.get("Outputs", {}).items():
            if "Condition" in output and not resolver.condition(output["Condition"]):
                continue
            self.stack.outputs[name] = resolver.resolve(output["Value"])
        self._register_stack(resolver)
        return self.stack

    def _preflight(self, resolver: Resolver) -> None:
        """Validate every function's cardshare settings before any resource exists.

        A malformed account ID, OU ARN or allow-list entry then fails with the ConfigError that
        names it, instead of RAM's own error halfway through the deploy. Resources not created yet
        are stood in for by placeholder names and ARNs of the right shape.
        """
        for logical_id, spec in self._template["Resources"].items():
            kind = spec["Type"].split("::")
            placeholder = (
                f"arn:aws:{kind[1].lower()}:{self.region}:{self.account}:{kind[-1].lower()}/preflight-{logical_id}"
            )
            if spec["Type"] == "AWS::RAM::ResourceShare":
                placeholder = f"arn:aws:ram:{self.region}:{self.account}:resource-share/preflight-{logical_id}"
            resolver.refs[logical_id] = placeholder
            for attribute in ("Arn", "TopicName", "QueueName", "QueueUrl", "Name"):
                resolver.attributes[(logical_id, attribute)] = placeholder
        for spec in self._template["Resources"].values():
            if spec["Type"] != "AWS::Serverless::Function":
                continue
            props = resolver.resolve(merge_globals(self._template, "Function", spec["Properties"]))
            environment = {k: str(v) for k, v in props.get("Environment", {}).get("Variables", {}).items()}
            if "CARDSHARE_STAGE_ORDER" in environment:
                load_settings({**environment, "AWS_REGION": self.region})

    def _register_stack(self, resolver: Resolver) -> None:
        """Make the deployed stack visible to CloudFormation's API (describe-stacks and its Outputs).

        The resources exist already, so moto's CloudFormation is handed a stand-in template that
        creates nothing: the stack's parameters and its resolved outputs as literal values.
        DescribeStacks answers with the stack's status, parameters and outputs as AWS would;
        its resource list stays empty, and GetTemplate returns the stand-in.
        """
        stack = self._deployed
        outputs: dict[str, Any] = {}
        for name, value in stack.outputs.items():
            declared = self._template["Outputs"][name]
            outputs[name] = {"Value": _text(value)}
            if "Description" in declared:
                outputs[name]["Description"] = _text(resolver.resolve(declared["Description"]))
            if "Export" in declared:
                outputs[name]["Export"] = {"Name": _text(resolver.resolve(declared["Export"]["Name"]))}
        stand_in = {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Description": str(self._template.get("Description", "")).strip()[:1024],
            "Parameters": {name: {"Type": "String"} for name in stack.parameters},
            "Resources": {},
            "Outputs": outputs,
        }
        self.client("cloudformation").create_stack(
            StackName=self.stack_name,
            TemplateBody=json.dumps(stand_in),
            Parameters=[
                {"ParameterKey": name, "ParameterValue": _text(value)} for name, value in stack.parameters.items()
            ],
        )

    def _physical_name(self, logical_id: str) -> str:
        return f"{self.stack_name}-{logical_id}"[:64]

    # ---- RAM -----------------------------------------------------------------------------
    def _ram_permission(self, logical_id: str, spec: dict[str, Any], resolver: Resolver) -> None:
        props = resolver.resolve(spec["Properties"])
        permission = self.client("ram").create_permission(
            name=props["Name"], resourceType=props["ResourceType"], policyTemplate=json.dumps(props["PolicyTemplate"])
        )["permission"]
        resolver.refs[logical_id] = permission["arn"]
        resolver.attributes[(logical_id, "Arn")] = permission["arn"]

    def _ram_share(self, logical_id: str, spec: dict[str, Any], resolver: Resolver) -> None:
        props = resolver.resolve(spec["Properties"])
        share = self.client("ram").create_resource_share(
            name=props["Name"],
            principals=props.get("Principals", []),
            permissionArns=props.get("PermissionArns", []),
            allowExternalPrincipals=str(props.get("AllowExternalPrincipals", True)).lower() == "true",
            tags=[{"key": tag["Key"], "value": tag["Value"]} for tag in props.get("Tags", [])],
        )["resourceShare"]
        resolver.refs[logical_id] = share["resourceShareArn"]
        resolver.attributes[(logical_id, "Arn")] = share["resourceShareArn"]

    # ---- compute ---------------------------------------------------------------------------
    def _layer(self, logical_id: str, spec: dict[str, Any], resolver: Resolver) -> None:
        props = resolver.resolve(spec["Properties"])
        self._layers[logical_id] = self.root / props["ContentUri"]
        resolver.refs[logical_id] = f"arn:aws:lambda:{self.region}:{self.account}:layer:{logical_id}:1"

    def _log_group(self, logical_id: str, spec: dict[str, Any], resolver: Resolver) -> None:
        props = resolver.resolve(spec["Properties"])
        name = props["LogGroupName"]
        logs = self.client("logs")
        logs.create_log_group(logGroupName=name)
        if "RetentionInDays" in props:
            logs.put_retention_policy(logGroupName=name, retentionInDays=int(props["RetentionInDays"]))
        resolver.refs[logical_id] = name
        resolver.attributes[(logical_id, "Arn")] = f"arn:aws:logs:{self.region}:{self.account}:log-group:{name}:*"

    def _execution_role(self, logical_id: str, service: str) -> str:
        document = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
        # CloudFormation names a role it creates <stack>-<LogicalId>-<suffix> (the table policy relies on it).
        name = f"{self.stack_name}-{logical_id}Role"[:51] + f"-{uuid.uuid4().hex[:12].upper()}"
        role = self.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(document))
        return str(role["Role"]["Arn"])

    def _function(self, logical_id: str, spec: dict[str, Any], resolver: Resolver) -> None:
        props = resolver.resolve(merge_globals(self._template, "Function", spec["Properties"]))
        name = props.get("FunctionName") or self._physical_name(logical_id)
        environment = {k: str(v) for k, v in props.get("Environment", {}).get("Variables", {}).items()}
        function = self.client("lambda").create_function(
            FunctionName=name,
            Runtime=props["Runtime"],
            Role=self._execution_role(logical_id, "lambda.amazonaws.com"),
            Handler=props["Handler"],
            Code={"ZipFile": _placeholder_zip()},
            Timeout=int(props.get("Timeout", 3)),
            MemorySize=int(props.get("MemorySize", 128)),
            Environment={"Variables": environment},
        )
        layer_dirs = [
            path for layer_id, path in self._layers.items() if resolver.refs[layer_id] in props.get("Layers", [])
        ]
        lambda_inprocess.register_source(
            name,
            self.root / props["CodeUri"],
            layer_dirs,
            list(environment),
            runtime_variables=_logging_variables(props.get("LoggingConfig", {})),
        )
        for event_id, event in props.get("Events", {}).items():
            self._function_event(logical_id, event_id, event, function["FunctionArn"])
        self._deployed.environment[logical_id] = environment
        resolver.refs[logical_id] = name
        resolver.attributes[(logical_id, "Arn")] = function["FunctionArn"]

    def _lambda_function(self, logical_id: str, spec: dict[str, Any], resolver: Resolver) -> None:
        # A plain function's Code points at a package in S3; the template names its source folder
        # in Metadata ("cardshare:source"), which runs in-process like the SAM functions do.
        source = spec.get("Metadata", {}).get("cardshare:source")
        if not source:
            raise TemplateError(f"{logical_id}: no Metadata cardshare:source to run the function's code from")
        props = resolver.resolve(spec["Properties"])
        name = props.get("FunctionName") or self._physical_name(logical_id)
        environment = {k: str(v) for k, v in props.get("Environment", {}).get("Variables", {}).items()}
        function = self.client("lambda").create_function(
            FunctionName=name,
            Runtime=props["Runtime"],
            Role=props["Role"],
            Handler=props["Handler"],
            Code={"ZipFile": _placeholder_zip()},
            Timeout=int(props.get("Timeout", 3)),
            MemorySize=int(props.get("MemorySize", 128)),
            Environment={"Variables": environment},
        )
        lambda_inprocess.register_source(name, self.root / source, [], list(environment))
        self._deployed.environment[logical_id] = environment
        resolver.refs[logical_id] = name
        resolver.attributes[(logical_id, "Arn")] = function["FunctionArn"]

    def _lambda_permission(self, logical_id: str, spec: dict[str, Any], resolver: Resolver) -> None:
        props = resolver.resolve(spec["Properties"])
        request = {"FunctionName": props["FunctionName"], "Action": props["Action"], "Principal": props["Principal"]}
        if "SourceArn" in props:
            request["SourceArn"] = props["SourceArn"]
        self.client("lambda").add_permission(StatementId=logical_id, **request)
        resolver.refs[logical_id] = logical_id

    def _function_event(self, logical_id: str, event_id: str, event: dict[str, Any], function_arn: str) -> None:
        # SAM turns a ScheduleV2 event into an EventBridge Scheduler schedule that invokes the
        # function through a role it creates (allowed to send to the dead-letter queue). The
        # embedded AWS keeps the schedule but runs no clock: tests and the demo invoke the function.
        if event.get("Type") != "ScheduleV2":
            raise TemplateError(
                f"{logical_id}.Events.{event_id}: event type {event.get('Type')} is not supported locally"
            )
        props = event["Properties"]
        role_id = f"{logical_id}{event_id}"
        target: dict[str, Any] = {
            "Arn": function_arn,
            "RoleArn": self._execution_role(role_id, "scheduler.amazonaws.com"),
        }
        for key in ("RetryPolicy", "DeadLetterConfig", "Input"):
            if key in props:
                target[key] = props[key]
        # The role's statements, as SAM writes them: invoke the function, send to the dead-letter queue.
        statements = [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": function_arn}]
        if "DeadLetterConfig" in target:
            statements.append(
                {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": target["DeadLetterConfig"]["Arn"]}
            )
        self.client("iam").put_role_policy(
            RoleName=str(target["RoleArn"]).rsplit("/", 1)[1],
            PolicyName="schedule-target",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
        )
        if "RetryPolicy" in target:
            target["RetryPolicy"] = {key: int(value) for key, value in target["RetryPolicy"].items()}
        self.client("scheduler").create_schedule(
            Name=props.get("Name") or f"{logical_id}{event_id}",
            ScheduleExpression=props["ScheduleExpression"],
            FlexibleTimeWindow=props.get("FlexibleTimeWindow", {"Mode": "OFF"}),
            Target=target,
            State=props.get("State", "ENABLED"),
            Description=props.get("Description", ""),
        )

    def _state_machine(self, logical_id: str, spec: dict[str, Any], resolver: Resolver) -> None:
        props = resolver.resolve(spec["Properties"])
        substitutions = {k: str(v) for k, v in props.get("DefinitionSubstitutions", {}).items()}
        text = (self.root / props["DefinitionUri"]).read_text(encoding="utf-8")
        missing = set(_ASL_VARIABLE.findall(text)) - set(substitutions)
        if missing:
            raise TemplateError(f"{logical_id}: no DefinitionSubstitutions for {', '.join(sorted(missing))}")
        definition = _ASL_VARIABLE.sub(lambda m: substitutions[m.group(1)], text)
        json.loads(definition)  # what Step Functions would reject, reject here
        machine = self.client("stepfunctions").create_state_machine(
            name=props.get("Name") or self._physical_name(logical_id),
            definition=definition,
            roleArn=self._execution_role(logical_id, "states.amazonaws.com"),
            type=props.get("Type", "STANDARD"),
        )
        resolver.refs[logical_id] = machine["stateMachineArn"]
        resolver.attributes[(logical_id, "Arn")] = machine["stateMachineArn"]
        resolver.attributes[(logical_id, "Name")] = machine["stateMachineArn"].rsplit(":", 1)[-1]

    # ---- messaging -------------------------------------------------------------------------
    def _queue(self, logical_id: str, spec: dict[str, Any], resolver: Resolver) -> None:
        props = resolver.resolve(spec.get("Properties", {}))
        name = props.get("QueueName") or self._physical_name(logical_id)
        attributes = {
            key: str(props[key]).lower() if isinstance(props[key], bool) else str(props[key])
            for key in ("MessageRetentionPeriod", "VisibilityTimeout", "SqsManagedSseEnabled")
            if key in props
        }
        url = self.client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = f"arn:aws:sqs:{self.region}:{self.account}:{name}"
        resolver.refs[logical_id] = url
        resolver.attributes[(logical_id, "Arn")] = arn
        resolver.attributes[(logical_id, "QueueName")] = name
        resolver.attributes[(logical_id, "QueueUrl")] = url

    def _queue_policy(self, logical_id: str, spec: dict[str, Any], resolver: Resolver) -> None:
        props = resolver.resolve(spec["Properties"])
        for url in props["Queues"]:
            self.client("sqs").set_queue_attributes(
                QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])}
            )
        resolver.refs[logical_id] = logical_id

    def _role(self, logical_id: str, spec: dict[str, Any], resolver: Resolver) -> None:
        props = resolver.resolve(spec["Properties"])
        iam = self.client("iam")
        name = props.get("RoleName") or self._physical_name(logical_id)
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"]))
        for policy in props.get("Policies", []):
            iam.put_role_policy(
                RoleName=name, PolicyName=policy["PolicyName"], PolicyDocument=json.dumps(policy["PolicyDocument"])
            )
        for policy_arn in props.get("ManagedPolicyArns", []):
            iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
        resolver.refs[logical_id] = name
        resolver.attributes[(logical_id, "Arn")] = role["Role"]["Arn"]

    def _managed_policy(self, logical_id: str, spec: dict[str, Any], resolver: Resolver) -> None:
        # Stored and attached as AWS does; the embedded AWS does not evaluate IAM policies.
        props = resolver.resolve(spec["Properties"])
        if props.get("Users") or props.get("Groups"):
            raise TemplateError(f"{logical_id}: attaching to Users or Groups is not supported locally (only Roles)")
        iam = self.client("iam")
        arn = iam.create_policy(
            PolicyName=props.get("ManagedPolicyName") or self._physical_name(logical_id),
            Path=props.get("Path", "/"),
            PolicyDocument=json.dumps(props["PolicyDocument"]),
            Description=props.get("Description", ""),
        )["Policy"]["Arn"]
        for role in props.get("Roles", []):
            iam.attach_role_policy(RoleName=role, PolicyArn=arn)
        resolver.refs[logical_id] = arn

    def _rule(self, logical_id: str, spec: dict[str, Any], resolver: Resolver) -> None:
        props = resolver.resolve(spec["Properties"])
        events = self.client("events")
        name = props.get("Name") or self._physical_name(logical_id)
        # A rule has an event pattern or a schedule; locally no clock runs a schedule (see _function_event).
        trigger = (
            {"ScheduleExpression": props["ScheduleExpression"]}
            if "ScheduleExpression" in props
            else {"EventPattern": json.dumps(props["EventPattern"])}
        )
        arn = events.put_rule(
            Name=name, State=props.get("State", "ENABLED"), Description=props.get("Description", ""), **trigger
        )["RuleArn"]
        targets = props.get("Targets", [])
        if targets:
            failed = events.put_targets(Rule=name, Targets=targets).get("FailedEntries", [])
            if failed:
                raise TemplateError(f"{logical_id}: targets rejected: {failed}")
        resolver.refs[logical_id] = name
        resolver.attributes[(logical_id, "Arn")] = arn

    def _table(self, logical_id: str, spec: dict[str, Any], resolver: Resolver) -> None:
        props = resolver.resolve(spec["Properties"])
        name = props.get("TableName") or self._physical_name(logical_id)
        dynamodb = self.client("dynamodb")
        table = dynamodb.create_table(
            TableName=name,
            AttributeDefinitions=props["AttributeDefinitions"],
            KeySchema=props["KeySchema"],
            BillingMode=props.get("BillingMode", "PROVISIONED"),
            SSESpecification={
                "Enabled": str(props.get("SSESpecification", {}).get("SSEEnabled", False)).lower() == "true"
            },
            DeletionProtectionEnabled=str(props.get("DeletionProtectionEnabled", False)).lower() == "true",
        )["TableDescription"]
        policy = props.get("ResourcePolicy", {}).get("PolicyDocument")
        if policy is not None:
            # Stored as AWS stores it; the embedded AWS does not evaluate IAM policies.
            dynamodb.put_resource_policy(ResourceArn=table["TableArn"], Policy=json.dumps(policy))
        recovery = props.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled")
        if str(recovery).lower() == "true":
            dynamodb.update_continuous_backups(
                TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
            )
        resolver.refs[logical_id] = name
        resolver.attributes[(logical_id, "Arn")] = table["TableArn"]

    def _topic(self, logical_id: str, spec: dict[str, Any], resolver: Resolver) -> None:
        props = resolver.resolve(spec.get("Properties", {}))
        name = props.get("TopicName") or self._physical_name(logical_id)
        attributes = {key: str(props[key]) for key in ("DisplayName", "KmsMasterKeyId") if key in props}
        arn = self.client("sns").create_topic(Name=name, Attributes=attributes)["TopicArn"]
        resolver.refs[logical_id] = arn
        resolver.attributes[(logical_id, "TopicArn")] = arn
        resolver.attributes[(logical_id, "TopicName")] = name

    def _kms_key(self, logical_id: str, spec: dict[str, Any], resolver: Resolver) -> None:
        props = resolver.resolve(spec["Properties"])
        kms = self.client("kms")
        key = kms.create_key(
            Description=props.get("Description", ""),
            Policy=json.dumps(props["KeyPolicy"]),
            KeyUsage=props.get("KeyUsage", "ENCRYPT_DECRYPT"),
        )["KeyMetadata"]
        if str(props.get("EnableKeyRotation", False)).lower() == "true":
            kms.enable_key_rotation(KeyId=key["KeyId"])
        resolver.refs[logical_id] = key["KeyId"]
        resolver.attributes[(logical_id, "Arn")] = key["Arn"]
        resolver.attributes[(logical_id, "KeyId")] = key["KeyId"]

    def _dashboard(self, logical_id: str, spec: dict[str, Any], resolver: Resolver) -> None:
        props = resolver.resolve(spec["Properties"])
        name = props.get("DashboardName") or self._physical_name(logical_id)
        body = props["DashboardBody"]
        json.loads(body)  # CloudWatch rejects a body that is not JSON: reject it here
        self.client("cloudwatch").put_dashboard(DashboardName=name, DashboardBody=body)
        resolver.refs[logical_id] = name

    def _query_definition(self, logical_id: str, spec: dict[str, Any], resolver: Resolver) -> None:
        props = resolver.resolve(spec["Properties"])
        identifier = self.client("logs").put_query_definition(
            name=props["Name"], queryString=props["QueryString"], logGroupNames=props.get("LogGroupNames", [])
        )["queryDefinitionId"]
        resolver.refs[logical_id] = identifier
        resolver.attributes[(logical_id, "QueryDefinitionId")] = identifier

    def _alarm(self, logical_id: str, spec: dict[str, Any], resolver: Resolver) -> None:
        props = resolver.resolve(spec["Properties"])
        name = props.pop("AlarmName", None) or self._physical_name(logical_id)
        for key in ("Period", "EvaluationPeriods", "DatapointsToAlarm"):
            if key in props:
                props[key] = int(props[key])
        if "Threshold" in props:
            props["Threshold"] = float(props["Threshold"])
        self.client("cloudwatch").put_metric_alarm(AlarmName=name, **props)
        resolver.refs[logical_id] = name


def _logging_variables(config: Mapping[str, Any]) -> dict[str, str]:
    """The variables Lambda's runtime sets from a function's LoggingConfig (JSON format only)."""
    if config.get("LogFormat") != "JSON":
        return {}
    variables = {"AWS_LAMBDA_LOG_FORMAT": "JSON"}
    if "ApplicationLogLevel" in config:
        variables["AWS_LAMBDA_LOG_LEVEL"] = str(config["ApplicationLogLevel"])
    return variables


def deploy_stack(  # noqa: PLR0913 - `aws cloudformation deploy`'s own options: files, who, what and where
    root: Path,
    session: boto3.Session,
    parameters: Mapping[str, str],
    *,
    stack_name: str,
    account: str,
    region: str,
    template: str = "template.yaml",
) -> Stack:
    """Deploy ``root/template`` with ``parameters`` into ``account``/``region``, as ``session``.

    Paths in the template (CodeUri, ContentUri, DefinitionUri) are relative to ``root``. Another
    account's stack is deployed with a session of that account (``accounts.session_for``).
    """
    return Deployer(root, session, stack_name, account, region).deploy(root / template, parameters)
