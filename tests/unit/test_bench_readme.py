"""The README's performance table is the committed benchmark result, rendered (not typed by hand)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from bench.report import markdown

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_table_comes_from_the_committed_result() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Performance", 1)[1].split("\n## ", 1)[0]
    source = re.search(r"`(bench/results/[0-9TZ]+\.json)`", section)
    assert source, "the Performance section names its result file"
    result = json.loads((ROOT / source.group(1)).read_text(encoding="utf-8"))
    assert markdown(result) in section
    assert f"`{result['command']}`" in section
