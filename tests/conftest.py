"""Shared test setup: import paths and fake credentials, so no test can reach real AWS.

The cloud suite (tests/cloud, ``make test-cloud``) is the one exception: it gets the AWS variables
as they were before this file replaced them (:data:`REAL_AWS_ENVIRONMENT`), and only when asked for.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# tests/cloud: the cloud suite's helpers, which its unit tests and the offline smoke test import too.
for path in (ROOT / "layers" / "cardshare", ROOT / "local", ROOT / "tests" / "cloud"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

#: Every AWS_* variable as the shell set it, before the fake credentials below replace them.
REAL_AWS_ENVIRONMENT: dict[str, str] = {key: value for key, value in os.environ.items() if key.startswith("AWS_")}

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "Cardshare",
        "POWERTOOLS_SERVICE_NAME": "cardshare",
    }
)
os.environ.pop("AWS_PROFILE", None)


@pytest.fixture(scope="session")
def real_aws_environment() -> dict[str, str]:
    """The AWS_* variables as the shell set them (the cloud suite's credentials, region and profile)."""
    return dict(REAL_AWS_ENVIRONMENT)
