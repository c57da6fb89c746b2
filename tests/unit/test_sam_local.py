"""The files `sam local invoke` uses (events/lambda/, env.json) against the template, the ASL and the README.

SAM only passes a function the variables its template declares: an env.json key the template
lacks is silently ignored, and a declared variable env.json leaves out keeps its unresolved
intrinsic, which SAM blanks. So env.json must name exactly each function's variables. The payload
samples must have the shape the workflow's Lambda tasks send; the README's commands must name a
function and a payload for it that exist. (That each sample is accepted by its real handler is
tests/integration/test_lambda_payloads.py.)
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from template_loader import load_raw_template, load_template

from cardshare.convergence import Progress
from cardshare.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
ENV_FILE = ROOT / "env.json"
PAYLOADS = ROOT / "events" / "lambda"
WORKFLOW_INPUTS = ROOT / "events"
ASL = ROOT / "statemachines" / "promote_card.asl.json"
SAM_SECTION = "Working with SAM"


# ---- what the template and the ASL declare ------------------------------------------------------


def function_ids() -> set[str]:
    """The template's Lambda functions, by logical ID."""
    resources = load_template()["Resources"]
    return {name for name, spec in resources.items() if spec["Type"] == "AWS::Serverless::Function"}


def declared_variables(function_id: str) -> set[str]:
    """The environment variables the SAM CLI sees declared for ``function_id``: Globals merged with its own.

    The SAM CLI expands Fn::ForEach loops of whole resources but not loops inside properties
    (the per-stage variables), so those are not declared for it: env.json gives their ladder as
    CARDSHARE_STAGES, which the template declares for that purpose.
    """
    template = load_raw_template()
    globals_ = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    own = template["Resources"][function_id]["Properties"].get("Environment", {}).get("Variables", {})
    return {name for name in {*globals_, *own} if not name.startswith("Fn::ForEach::")}


def state(name: str) -> dict[str, Any]:
    """One top-level state of the promote-card workflow."""
    states: dict[str, Any] = json.loads(ASL.read_text(encoding="utf-8"))["States"]
    return dict(states[name])


def payload_keys(task: str) -> set[str]:
    """The top-level keys of the payload a Lambda task state sends (``"event.$"`` is ``event``)."""
    return {key.removesuffix(".$") for key in state(task)["Parameters"]["Payload"]}


def catch_field(task: str) -> str:
    """Where the task's catch-all puts the error in the state (``"$.failure"`` is ``failure``)."""
    (catch,) = [c for c in state(task)["Catch"] if c["ErrorEquals"] == ["States.ALL"]]
    path = str(catch["ResultPath"])
    assert path.startswith("$."), path
    assert "." not in path[2:], path
    return path[2:]


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def samples(function_id: str) -> list[Path]:
    return sorted((PAYLOADS / function_id).glob("*.json"))


def env_file() -> dict[str, dict[str, Any]]:
    loaded: dict[str, dict[str, Any]] = load(ENV_FILE)
    return loaded


# ---- env.json -----------------------------------------------------------------------------------


def test_env_json_names_exactly_the_templates_functions() -> None:
    # SAM matches env.json's top-level keys to logical IDs; a misspelt one configures nothing.
    assert set(env_file()) == function_ids()


@pytest.mark.parametrize("function_id", sorted(function_ids()))
def test_env_json_sets_exactly_the_variables_the_template_declares(function_id: str) -> None:
    variables = env_file()[function_id]
    declared = declared_variables(function_id)
    assert not set(variables) - declared, "SAM ignores variables the template does not declare"
    assert not declared - set(variables), "a declared variable left out runs with SAM's blank for its intrinsic"
    # Lambda takes strings only; SAM would turn true into "true" and a list into "".
    assert all(isinstance(value, str) for value in variables.values()), variables


@pytest.mark.parametrize("function_id", ["PlanCardFunction", "ReconcileFunction"])
def test_env_json_values_pass_settings_validation(function_id: str) -> None:
    variables = env_file()[function_id]
    # The plan function and the reconciler load the settings (the ladder is theirs) at once.
    settings = load_settings({**variables, "AWS_REGION": "us-east-1"})
    assert settings.account == variables["CARDSHARE_ACCOUNT_ID"]
    # The payload samples are about cards of this account, so the two must agree.
    for path in samples("PlanCardFunction"):
        assert load(path)["event"]["account"] == settings.account, path.name


# ---- the payload samples --------------------------------------------------------------------------


def test_every_function_has_payload_samples_and_every_sample_dir_is_a_function() -> None:
    directories = {path.name for path in PAYLOADS.iterdir() if path.is_dir()}
    assert directories == function_ids()
    assert all(samples(function_id) for function_id in directories)
    assert not list(PAYLOADS.glob("*.json")), "a payload sample belongs in its function's directory"


@pytest.mark.parametrize("path", samples("PlanCardFunction"), ids=lambda p: p.name)
def test_plan_samples_are_what_the_plan_state_sends(path: Path) -> None:
    payload = load(path)
    assert set(payload) == payload_keys("Plan")
    assert re.fullmatch(r"arn:aws:states:[a-z0-9-]+:\d{12}:execution:[\w-]+:[\w-]+", payload["execution"])
    # The event is a workflow input verbatim, so the two kinds of sample cannot drift apart.
    inputs = [load(p) for p in sorted(WORKFLOW_INPUTS.glob("*.json"))]
    assert payload["event"] in inputs


def test_the_plan_samples_cover_a_first_round_and_a_later_one() -> None:
    progress = [load(path)["progress"] for path in samples("PlanCardFunction")]
    assert None in progress, "the Start state passes progress null to the first round"
    later = [p for p in progress if p is not None]
    assert later
    assert all(p["rounds"] >= 1 for p in later)
    # Progress is the plan's own output carried round to round: the same fields it returns.
    assert all(set(p) == set(Progress().to_dict()) for p in later)


@pytest.mark.parametrize("path", samples("DescribeFailureFunction"), ids=lambda p: p.name)
def test_describe_failure_samples_are_a_failed_state_as_the_catch_passes_it(path: Path) -> None:
    payload = load(path)
    assert set(payload) == payload_keys("DescribeFailure")
    failed = payload["state"]
    # A later round's Plan input is what Start builds, its plan slot replaced by each round's result;
    # the catch adds the error beside it.
    carried = {key.removesuffix(".$") for key in state("Start")["Parameters"]}
    assert state("Plan")["ResultPath"] == "$.plan"
    assert "plan" in carried
    assert set(failed) == carried | {catch_field("Plan")}
    failure = failed[catch_field("Plan")]
    assert set(failure) == {"Error", "Cause"}
    # A Lambda task's error: Step Functions names it after the runtime's error document, its cause.
    assert json.loads(failure["Cause"])["errorType"] == failure["Error"]
    assert set(failed["plan"]) == {key.removesuffix(".$") for key in state("Plan")["ResultSelector"]}


def test_reconcile_samples_are_a_schedule_and_a_dry_run() -> None:
    payloads = [load(path) for path in samples("ReconcileFunction")]
    scheduled = [p for p in payloads if p.get("source") == "aws.events" and p.get("detail-type") == "Scheduled Event"]
    assert len(scheduled) == 1, "the schedule must run as the stack is set"
    assert "dryRun" not in scheduled[0], "the schedule must run as the stack is set"
    assert {"dryRun": True} in payloads


# ---- the README's commands ------------------------------------------------------------------------


def readme() -> str:
    return (ROOT / "README.md").read_text(encoding="utf-8")


def shell_commands(text: str) -> list[list[str]]:
    """Every SAM CLI command in the text's bash blocks and inline code, as words (continuations joined)."""
    blocks = re.findall(r"^```bash\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    inline = re.findall(r"(?<!`)`([^`\n]+)`(?!`)", text)
    commands = []
    for chunk in [*blocks, *inline]:
        for line in chunk.replace("\\\n", " ").splitlines():
            # Other commands may use shell syntax shlex does not follow; a SAM one must parse.
            if re.search(r"\bsam\b", line):
                commands.append(shlex.split(line, comments=True))
    return commands


def sam_commands(text: str, *subcommand: str) -> list[list[str]]:
    """The arguments of each command that runs the SAM CLI (``sam`` or ``.venv-sam/bin/sam``) with ``subcommand``.

    Prose that names a command without arguments ("`sam sync` skips change sets") is not a command.
    """
    found = []
    for words in shell_commands(text):
        for i, word in enumerate(words):
            if Path(word).name == "sam" and words[i + 1 : i + 1 + len(subcommand)] == list(subcommand):
                arguments = words[i + 1 + len(subcommand) :]
                if arguments:
                    found.append(arguments)
    return found


def option(words: list[str], *names: str) -> str | None:
    """The value of the first of ``names`` in ``words`` (``-e FILE`` or ``--event=FILE``)."""
    for i, word in enumerate(words):
        if word in names and i + 1 < len(words):
            return words[i + 1]
        name, _, value = word.partition("=")
        if name in names and value:
            return value
    return None


def test_readme_sam_local_invoke_commands_name_a_function_and_a_payload_of_it() -> None:
    invokes = sam_commands(readme(), "local", "invoke")
    assert invokes, "the README shows no sam local invoke"
    for words in invokes:
        function_id = words[0]
        assert function_id in function_ids(), words
        event = option(words, "-e", "--event")
        assert event is not None, words
        # A workflow input is not a Lambda payload: that mix-up is what these samples replace.
        assert (ROOT / event).is_file(), words
        assert (ROOT / event).parent == PAYLOADS / function_id, words
        assert option(words, "--env-vars", "-n") == "env.json", words  # -n is --env-vars for local invoke
    assert {words[0] for words in invokes} == function_ids(), "show one invoke per function"


def test_readme_sam_commands_against_a_stack_name_it() -> None:
    section = readme().split(f"\n## {SAM_SECTION}\n", 1)[1].split("\n## ", 1)[0]
    commands = {
        "sync": sam_commands(section, "sync"),
        "logs": sam_commands(section, "logs"),
        "list stack-outputs": sam_commands(section, "list", "stack-outputs"),
    }
    for name, found in commands.items():
        assert found, f"the {SAM_SECTION} section shows no sam {name}"
        # samconfig.toml's global stack name would otherwise pick the stack silently.
        assert all(option(words, "--stack-name") for words in found), (name, found)
    assert all("--watch" in words for words in commands["sync"])
    assert all("--tail" in words for words in commands["logs"])
    for words in commands["logs"]:
        named = option(words, "-n", "--name")
        assert named is None or named in function_ids(), words
