"""The template through the real tools: cfn-lint, `sam validate --lint`, `sam build`.

These need the SAM CLI (`make test` puts .venv-sam/bin on PATH). Without it they fail, not skip:
a template that was never validated must not look green.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
BUILD_TIMEOUT = 600

pytestmark = pytest.mark.sam


def sam() -> str:
    found = shutil.which("sam")
    if found:
        return found
    local = ROOT / ".venv-sam" / "bin" / "sam"
    if local.exists():
        return str(local)
    pytest.fail("the SAM CLI is not installed: put `sam` on PATH or run `make test` (it creates .venv-sam)")


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"SAM_CLI_TELEMETRY": "0", "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"})
    # sam build runs pip for python3.11; a test PYTHONPATH must not leak into the build.
    env.pop("PYTHONPATH", None)
    return env


def run(command: list[str], timeout: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=ROOT, env=environment(), capture_output=True, text=True, timeout=timeout, check=False
    )


def explain(result: subprocess.CompletedProcess[str]) -> str:
    return f"{' '.join(result.args)} exited {result.returncode}\n{result.stdout[-6000:]}\n{result.stderr[-6000:]}"


def test_cfn_lint_is_clean() -> None:
    # Through this interpreter, so a stale console-script shebang cannot break it.
    command = [sys.executable, "-c", "import sys; from cfnlint.runner import main; sys.exit(main())", str(TEMPLATE)]
    result = run(command, timeout=300)
    assert result.returncode == 0, explain(result)


def test_sam_validate_lint_passes() -> None:
    result = run([sam(), "validate", "--lint", "--template-file", str(TEMPLATE)], timeout=300)
    assert result.returncode == 0, explain(result)
    assert "is a valid SAM Template" in result.stdout + result.stderr


FORBIDDEN_IN_BUILD = ("moto", "pytest", "_pytest", "hypothesis", "tests", "cardshare_local")


def test_sam_build_succeeds_and_ships_no_test_or_local_code(tmp_path: Path) -> None:
    build = tmp_path / "build"
    command = [
        sam(),
        "build",
        "--build-dir",
        str(build),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--template-file",
        str(TEMPLATE),
    ]
    result = run(command, timeout=BUILD_TIMEOUT)
    assert result.returncode == 0, explain(result)
    assert "Build Succeeded" in result.stdout + result.stderr

    layer_package = build / "CardshareLayer" / "python" / "cardshare"
    assert (layer_package / "policy.py").is_file(), f"no cardshare/policy.py in the layer: {sorted(build.iterdir())}"
    assert (layer_package / "planner.py").is_file()
    assert (build / "PlanCardFunction" / "app.py").is_file()
    assert (build / "template.yaml").is_file()

    offending = []
    for path in build.rglob("*"):
        relative = path.relative_to(build)
        for part in relative.parts:
            stem = part.split("-", 1)[0].removesuffix(".py").lower()
            if stem in FORBIDDEN_IN_BUILD or part in FORBIDDEN_IN_BUILD:
                offending.append(str(relative))
                break
    assert not offending, f"test or local-runtime code in the build: {offending[:20]}"
    # The package ships once, in the layer; the function folder holds only its handler.
    assert not (build / "PlanCardFunction" / "cardshare").exists(), "the package belongs in the layer, not the function"


# What SAM itself makes of the template: the Globals merge and the ScheduleV2 event, through the
# SAM CLI's own samtranslator (in its own environment), not the local deployer's reading of them.
TRANSLATE = """
import json, sys
from samcli.lib.cfn_language_extensions.sam_integration import expand_language_extensions
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

class NoManagedPolicies:
    def load(self):
        return {}

# As CloudFormation does: AWS::LanguageExtensions first (the SAM CLI's own expansion), then SAM's.
template = expand_language_extensions(yaml_parse(open(sys.argv[1]).read()), enabled=True).expanded_template
for resource in template["Resources"].values():
    for key in ("CodeUri", "DefinitionUri", "ContentUri"):
        if key in resource.get("Properties", {}):
            resource["Properties"][key] = "s3://bucket/key"  # sam build would upload them
print(json.dumps(transform(template, {}, NoManagedPolicies())["Resources"]))
"""


def translated() -> dict[str, Any]:
    interpreter = Path(sam()).parent / "python"
    result = run([str(interpreter), "-c", TRANSLATE, str(TEMPLATE)], timeout=300)
    assert result.returncode == 0, explain(result)
    resources: dict[str, Any] = json.loads(result.stdout)
    return resources


def test_sam_gives_every_function_the_log_levels_and_the_stack_as_service() -> None:
    resources = translated()
    functions = {name: r for name, r in resources.items() if r["Type"] == "AWS::Lambda::Function"}
    assert len(functions) == 3
    for name, function in functions.items():
        logging = function["Properties"]["LoggingConfig"]
        assert logging["ApplicationLogLevel"] == {"Ref": "LogLevel"}, name
        assert logging["SystemLogLevel"] == {"Ref": "SystemLogLevel"}, name
        assert (logging["LogFormat"], logging["LogGroup"]) == ("JSON", {"Ref": f"{name}LogGroup"})
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["POWERTOOLS_SERVICE_NAME"] == {"Ref": "AWS::StackName"}, name


def test_sam_schedules_the_reconciler_with_retries_and_a_dead_letter_queue_it_may_send_to() -> None:
    resources = translated()
    (schedule,) = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Scheduler::Schedule"]
    target = schedule["Target"]
    assert target["Arn"] == {"Fn::GetAtt": ["ReconcileFunction", "Arn"]}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["ReconcileScheduleDeadLetterQueue", "Arn"]}}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    role = resources[target["RoleArn"]["Fn::GetAtt"][0]]["Properties"]
    statements = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    assert {
        "Action": "sqs:SendMessage",
        "Effect": "Allow",
        "Resource": {"Fn::GetAtt": ["ReconcileScheduleDeadLetterQueue", "Arn"]},
    } in statements
    assert not [r for r in resources.values() if r["Type"] == "AWS::Events::Rule" and "ScheduleExpression" in str(r)]
