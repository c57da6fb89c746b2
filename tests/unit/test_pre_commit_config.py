"""The pre-commit hooks run what `make lint typecheck` runs, with the project's pinned tools."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIG = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
REQUIREMENTS = (ROOT / "requirements" / "dev.txt").read_text(encoding="utf-8")


def pinned(package: str) -> str:
    found = re.search(rf"^{re.escape(package)}==(\S+)$", REQUIREMENTS, re.M)
    assert found, f"requirements/dev.txt pins {package}"
    return found.group(1)


def hooks() -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Every hook by id, with the repo entry it comes from."""
    found: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for repo in CONFIG["repos"]:
        for hook in repo["hooks"]:
            assert hook["id"] not in found, f"hook {hook['id']} is configured twice"
            found[hook["id"]] = (repo, hook)
    return found


def local_hooks() -> list[dict[str, Any]]:
    return [hook for repo, hook in hooks().values() if repo["repo"] == "local"]


def test_the_lint_format_type_and_template_hooks_exist() -> None:
    assert {"ruff-check", "ruff-format", "mypy", "cfn-lint"} <= set(hooks())


@pytest.mark.parametrize("hook", local_hooks(), ids=lambda hook: hook["id"])
def test_a_local_hook_runs_a_command_of_the_project_venv(hook: dict[str, Any]) -> None:
    assert hook["language"] == "system"
    command = shlex.split(hook["entry"])[0]
    assert command.startswith(".venv/bin/"), f"{hook['id']} runs {command}, not the project's venv"
    assert (ROOT / command).is_file(), f"{command} is not installed (make .venv/.installed)"


def test_mypy_runs_the_projects_configuration_over_every_file() -> None:
    _, hook = hooks()["mypy"]
    # The files come from [tool.mypy] in pyproject.toml, as in `make typecheck`: none are passed.
    assert hook["entry"] == ".venv/bin/mypy"
    assert hook["pass_filenames"] is False
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("\ntypecheck:", 1)[1].split("\n\n", 1)[0]
    assert "\t$(VENV)/bin/mypy" in recipe


def test_cfn_lint_covers_both_templates() -> None:
    _, hook = hooks()["cfn-lint"]
    pattern = re.compile(hook["files"])
    assert pattern.search("template.yaml")
    assert pattern.search("consumer/template.yaml")
    assert not pattern.search("samconfig.toml")


def test_ruff_is_the_version_requirements_pin() -> None:
    version = pinned("ruff")
    # A hook from ruff's own pre-commit mirror would bring its own ruff: it must be the pinned one.
    for repo in CONFIG["repos"]:
        if "ruff-pre-commit" in repo["repo"]:
            assert repo["rev"] == f"v{version}", f"{repo['repo']} is at {repo['rev']}, requirements pin {version}"
    # The local hooks run the venv's ruff.
    ruff_hooks = [hook for hook in local_hooks() if shlex.split(hook["entry"])[0] == ".venv/bin/ruff"]
    if ruff_hooks:
        result = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "ruff"), "--version"], capture_output=True, text=True, timeout=60, check=True
        )
        assert result.stdout.split() == ["ruff", version]
