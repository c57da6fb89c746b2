"""The README's table of the embedded AWS's extensions names exactly the extensions that are installed."""

from __future__ import annotations

import re
from pathlib import Path

from cardshare_local.extensions import EXTENSIONS

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_lists_every_extension_and_no_other() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The embedded AWS", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\| `(\w+)` \|", section, flags=re.MULTILINE)
    assert sorted(listed) == sorted(EXTENSIONS)
    assert len(listed) == len(set(listed))


def test_every_extension_is_exercised_by_a_smoke_test() -> None:
    smoke = " ".join(
        path.read_text(encoding="utf-8") for path in (ROOT / "tests/integration/local").glob("test_ext_*.py")
    )
    missing = [name for name in EXTENSIONS if not re.search(rf"\bimport\b[^\n]*\b{name}\b", smoke)]
    assert missing == []
