"""`make demo`, run as the README's first command block shows it."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def readme_demo_command() -> str:
    """The `make demo` line of the README's "The two commands" block (its comment dropped)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## The two commands\n", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"^```bash\n(.*?)^```", section, re.MULTILINE | re.DOTALL)
    (line,) = [line for line in block.splitlines() if line.startswith("make demo")]
    return line.split("#", 1)[0].strip()


def test_make_demo_converges_and_renders_the_matrix_and_ledger_with_the_cli() -> None:
    command = readme_demo_command()
    assert command == "make demo"
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}
    done = subprocess.run(
        command.split(), cwd=ROOT, env=environment, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    out = done.stdout
    assert "Every step converged." in out
    assert "Traceback" not in out + done.stderr
    # The matrix and the ledger come from the CLI's renderers (`cardshare cards`, `cardshare ledger`).
    rows = {
        line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[2:-1]]
        for line in out.splitlines()
        if line.startswith("│ ") and "-Model-Card " in line
    }
    assert rows["Customer-Churn-Model-Card"] == ["Archived", "none", "none", "read-only"], rows
    assert rows["Fraud-Scoring-Model-Card"] == ["Approved", "read-write", "read-write", "none"], rows
    assert "decisions for Customer-Churn-Model-Card, in time order" in out
    outcomes = re.findall(r"│ \d{4}-\d\d-\d\dT[^│]*│[^│]*│[^│]*│ (\S+)", out)
    assert outcomes == ["shared", "no-op", "shared", "shared", "revoked"], outcomes
