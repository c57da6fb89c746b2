"""DynamoDB's DescribeTable with the table's real size.

moto 5.2.5 reports ``TableSizeBytes: 0`` for every table. AWS reports the table's size in bytes
(refreshed about every six hours), and the ledger adapter reads it to choose between one Query per
card and one Scan of the table: with 0 it would always pick the Scan, however large the ledger. The
size here is the sum of the items' sizes by moto's own measure, the one its Scan pages by (1 MB).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.dynamodb.models.table import Table

_ORIGINALS: dict[str, Callable[..., Any]] = {}


def install() -> None:
    """Report each table's size in DescribeTable (idempotent)."""
    if _ORIGINALS:
        return
    _ORIGINALS["describe"] = Table.describe
    Table.describe = _describe  # type: ignore[method-assign]


def uninstall() -> None:
    """Restore moto's DescribeTable (for tests that compare with stock behaviour)."""
    if "describe" in _ORIGINALS:
        Table.describe = _ORIGINALS.pop("describe")  # type: ignore[method-assign]


def _describe(self: Table, base_key: str = "TableDescription") -> dict[str, Any]:
    result: dict[str, Any] = _ORIGINALS["describe"](self, base_key)
    result[base_key]["TableSizeBytes"] = sum(item.size() for item in self.all_items())
    return result
