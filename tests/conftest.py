"""Shared test setup: import paths and fake credentials, so no test can reach real AWS."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT / "layers" / "cardshare", ROOT / "local"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

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
