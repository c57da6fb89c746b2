"""The end-to-end fixture: a fresh embedded AWS with cardshare deployed from template.yaml, per test."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cardshare_local.runtime import LocalAws, local_aws

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)


@pytest.fixture
def system(request: pytest.FixtureRequest) -> Iterator[LocalAws]:
    """cardshare on a fresh embedded AWS (~1 s to deploy).

    Template parameters beyond LOCAL_PARAMETERS come from indirect parametrization:
    ``@pytest.mark.parametrize("system", [{"AllowExternalPrincipals": "true"}], indirect=True)``.
    """
    with local_aws(getattr(request, "param", None)) as deployed:
        yield deployed
