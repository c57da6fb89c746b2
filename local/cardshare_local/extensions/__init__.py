"""Named patches that make moto 5.2.5 behave like AWS where cardshare relies on it.

Each module restores one AWS behaviour, has an ``install()`` that is idempotent, and a smoke test
under ``tests/integration/local`` that fails if a moto upgrade breaks it.
"""

from __future__ import annotations

import importlib

EXTENSIONS = (
    "sts_source_identity",
    "sts_default_caller",
    "ram",
    "sagemaker_cards",
    "eventbridge_targets",
    "lambda_inprocess",
    "sfn_errors",
    "sfn_execution_names",
    "logs_query_definitions",
    "dynamodb_table_size",
    "dynamodb_read_cost",
    "lambda_environment_limit",
)


def install() -> None:
    """Apply every extension (safe to call more than once)."""
    for name in EXTENSIONS:
        importlib.import_module(f"{__name__}.{name}").install()
