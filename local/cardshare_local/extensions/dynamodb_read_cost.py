"""DynamoDB reads whose local cost per item does not grow with the request, as AWS's does not.

Same answers as moto 5.2.5, faster. Two places made a Scan of a large table take seconds per page
(the reconciler's one Scan of a 10,000-card ledger took over a minute, against a couple of seconds
in AWS), so that local timings said more about moto than about the reconciler:

- ``Item.project`` converted the whole item to plain JSON once per projected attribute; here it is
  converted once per item.
- The JSON response serializer walked the ``AttributeValue`` shape for every attribute of every
  item, although moto already holds it in wire form (``{"S": "..."}``); here a value made only of
  strings, numbers, booleans, nulls, sets of those, lists and maps is passed through as it is.
  Binary values (``B``, ``BS``) and anything unexpected still take moto's path, which base64-encodes.

``tests/integration/local/test_ext_dynamodb_read_cost.py`` checks that GetItem, Query and Scan
answer exactly as stock moto, item by item, with every attribute type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.utils import merge_dicts
from moto.core.serialize import BaseJSONSerializer
from moto.dynamodb.models.dynamo_type import Item, serializer
from moto.dynamodb.models.utilities import find_nested_key

_ORIGINALS: dict[str, Callable[..., Any]] = {}
#: The services whose ``AttributeValue`` shape is DynamoDB's (the name is used by others too).
_SERVICES = frozenset({"dynamodb", "dynamodbstreams"})
_STRINGS = frozenset({"S", "N"})
_STRING_SETS = frozenset({"SS", "NS"})
_FLAGS = frozenset({"BOOL", "NULL"})


def install() -> None:
    """Project items once and pass wire-form attribute values through (idempotent)."""
    if _ORIGINALS:
        return
    _ORIGINALS["project"] = Item.project
    _ORIGINALS["structure"] = BaseJSONSerializer._serialize_type_structure
    Item.project = _project  # type: ignore[method-assign]
    BaseJSONSerializer._serialize_type_structure = _serialize_type_structure  # type: ignore[method-assign]


def uninstall() -> None:
    """Restore moto's own (for the test that compares the two)."""
    if "project" in _ORIGINALS:
        Item.project = _ORIGINALS.pop("project")  # type: ignore[method-assign]
        BaseJSONSerializer._serialize_type_structure = _ORIGINALS.pop("structure")  # type: ignore[method-assign]


def _project(self: Item, projection_expressions: list[list[str]]) -> Item:
    plain = self.to_regular_json()
    result: dict[str, Any] = {}
    for expression in projection_expressions:
        merge_dicts(result, find_nested_key(expression, plain))
    return Item(hash_key=self.hash_key, range_key=self.range_key, attrs=dict(serializer.serialize(result)["M"]))


def _serialize_type_structure(self: BaseJSONSerializer, serialized: Any, value: Any, shape: Any, key: str) -> None:
    if (
        key
        and shape.name == "AttributeValue"
        and self.operation_model.service_model.service_name in _SERVICES
        and _wire_form(value)
    ):
        serialized[key] = value
        return
    _ORIGINALS["structure"](self, serialized, value, shape, key)


def _wire_form(value: Any) -> bool:
    """Whether ``value`` is an attribute value that serializes to itself (no binary, nothing odd)."""
    if not isinstance(value, dict) or len(value) != 1:
        return False
    ((kind, inner),) = value.items()
    if kind in _STRINGS:
        return isinstance(inner, str)
    if kind in _FLAGS:
        return isinstance(inner, bool)
    if kind in _STRING_SETS:
        return isinstance(inner, list) and all(isinstance(member, str) for member in inner)
    if kind == "L":
        return isinstance(inner, list) and all(_wire_form(member) for member in inner)
    if kind == "M":
        return isinstance(inner, dict) and all(
            isinstance(name, str) and _wire_form(member) for name, member in inner.items()
        )
    return False
