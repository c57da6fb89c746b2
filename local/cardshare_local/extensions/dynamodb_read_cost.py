"""DynamoDB reads whose local cost per item does not grow with the request, as AWS's does not.

Same answers as moto 5.2.5, faster. moto made a Scan of a large table take seconds per page (the
reconciler's one Scan of a 10,000-card ledger took over a minute, against a couple of seconds in
AWS), so that local timings said more about moto than about the reconciler:

- Each Scan page sorted the whole table by comparing key objects, walked and compared every item
  before the page's start key, measured each item twice, and deep-copied each item only to project
  it. Here a Scan of the table itself (no index, segment or filter: those keep moto's path) sorts by
  plain key values, finds its start by bisection, measures an item once, and copies only what it
  returns.
- An item's size (by which pages are cut at 1 MB) was measured by wrapping every member of every
  map in a new object; here the same sum is taken over the values as they are.
- ``Item.project`` converted the whole item to plain JSON once per projected attribute; here it is
  converted once per item, and not at all when only top-level strings, numbers, booleans, nulls,
  lists and maps are projected (moto's round trip through plain JSON rewrites numbers in
  DynamoDB's canonical form, and so does this; sets and binary values take moto's way).
- The JSON response serializer walked the ``AttributeValue`` shape for every attribute of every
  item, although moto already holds it in wire form (``{"S": "..."}``); here a value made only of
  strings, numbers, booleans, nulls, sets of those, lists and maps is passed through as it is.
  Binary values (``B``, ``BS``) and anything unexpected still take moto's path, which base64-encodes.

``tests/integration/local/test_ext_dynamodb_read_cost.py`` checks that GetItem, Query and Scan
answer exactly as stock moto, item by item, with every attribute type.
"""

from __future__ import annotations

import bisect
import copy
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import DYNAMODB_CONTEXT
from botocore.utils import merge_dicts
from moto.core.serialize import BaseJSONSerializer
from moto.dynamodb.comparisons import OpDefault
from moto.dynamodb.models.dynamo_type import DynamoType, Item, serializer
from moto.dynamodb.models.table import RESULT_SIZE_LIMIT, Table
from moto.dynamodb.models.utilities import bytesize, find_nested_key

_ORIGINALS: dict[str, Callable[..., Any]] = {}
#: The services whose ``AttributeValue`` shape is DynamoDB's (the name is used by others too).
_SERVICES = frozenset({"dynamodb", "dynamodbstreams"})
_STRINGS = frozenset({"S", "N"})
_STRING_SETS = frozenset({"SS", "NS"})
_FLAGS = frozenset({"BOOL", "NULL"})
_SETS = frozenset({"SS", "NS", "BS"})
#: A projection path element that indexes a list (``l[1]``): moto's own projection handles those.
_LIST_INDEX = re.compile(r"\[\d+\]$")


class _Unplain(Exception):
    """A projected value holds a set or binary data: project it moto's way."""


def install() -> None:
    """Patch moto's Scan, item size, projection and AttributeValue serializer (idempotent)."""
    if _ORIGINALS:
        return
    _ORIGINALS["project"] = Item.project
    _ORIGINALS["structure"] = BaseJSONSerializer._serialize_type_structure
    _ORIGINALS["scan"] = Table.scan
    _ORIGINALS["size"] = DynamoType.size
    DynamoType.size = _size  # type: ignore[method-assign]
    Item.project = _project  # type: ignore[method-assign]
    Table.scan = _scan  # type: ignore[method-assign]
    BaseJSONSerializer._serialize_type_structure = _serialize_type_structure  # type: ignore[method-assign]


def uninstall() -> None:
    """Restore moto's own (for the test that compares the two)."""
    if "project" in _ORIGINALS:
        Item.project = _ORIGINALS.pop("project")  # type: ignore[method-assign]
        Table.scan = _ORIGINALS.pop("scan")  # type: ignore[method-assign]
        DynamoType.size = _ORIGINALS.pop("size")  # type: ignore[method-assign]
        BaseJSONSerializer._serialize_type_structure = _ORIGINALS.pop("structure")  # type: ignore[method-assign]


def _scan(  # noqa: PLR0913 - moto's signature
    self: Table,
    filters: dict[str, Any],
    limit: int | None,
    exclusive_start_key: dict[str, Any] | None,
    filter_expression: Any = None,
    index_name: str | None = None,
    consistent_read: bool = False,
    projection_expression: list[list[str]] | None = None,
    segments: tuple[Any, Any] = (None, None),
) -> tuple[list[Item], int, dict[str, Any] | None]:
    # Without a FilterExpression moto passes OpDefault, which keeps every item.
    unfiltered = filter_expression is None or isinstance(filter_expression, OpDefault)
    if filters or not unfiltered or index_name or segments != (None, None):
        return _ORIGINALS["scan"](  # type: ignore[no-any-return]
            self,
            filters,
            limit,
            exclusive_start_key,
            filter_expression,
            index_name,
            consistent_read,
            projection_expression,
            segments,
        )
    keys, ordered = _in_key_order(self)
    start = 0 if exclusive_start_key is None else bisect.bisect_right(keys, _start_key(self, exclusive_start_key))
    page: list[Item] = []
    size = 0
    last_evaluated_key = None
    for item in ordered[start:]:
        item_size = item.size()
        if len(page) == limit or size + item_size > RESULT_SIZE_LIMIT:
            last_evaluated_key = self._get_last_evaluated_key(page[-1], None)
            break
        page.append(item)
        size += item_size
    if projection_expression:
        return [_projected(item, projection_expression) for item in page], len(page), last_evaluated_key
    return [copy.deepcopy(item) for item in page], len(page), last_evaluated_key


def _size(self: DynamoType) -> int:
    """The size moto gives an attribute value: UTF-8 bytes, digits of a number, 1 for a boolean."""
    kind, value = self.type, self.value
    if kind == "N":
        return len(str(value))
    if kind in _SETS:
        return sum(len(str(member)) if kind == "NS" else bytesize(member) for member in value)
    if kind == "L":
        return sum(_size(_typed(member)) for member in value)
    if kind == "M":
        return sum(bytesize(name) + _size(_typed(member)) for name, member in value.items())
    if isinstance(value, bool):
        return 1
    return bytesize(value)


def _typed(value: DynamoType | dict[str, Any]) -> DynamoType:
    # moto keeps members as DynamoType, but its own measure accepts wire-form dicts too.
    return value if isinstance(value, DynamoType) else DynamoType(value)


def _in_key_order(table: Table) -> tuple[list[tuple[Any, ...]], list[Item]]:
    """The table's keys (as plain values) and items, in moto's Scan order: by hash key, then range key."""
    items: list[Item] = []
    for keyed in table.items.values():
        # With a range key, moto keeps a dict of items per hash key; without, the item itself.
        items.extend(keyed.values() if isinstance(keyed, dict) else [keyed])
    pairs = sorted(((_key(table, item), item) for item in items), key=lambda pair: pair[0])
    return [key for key, _ in pairs], [item for _, item in pairs]


def _key(table: Table, item: Item) -> tuple[Any, ...]:
    if table.range_key_attr and item.range_key is not None:
        return (_key_value(item.hash_key), _key_value(item.range_key))
    return (_key_value(item.hash_key),)


def _key_value(value: DynamoType) -> Any:
    """``value.cast_value`` for a key attribute (S, N or B), without its checks for the other types."""
    return Decimal(value.value) if value.type == "N" else value.value


def _start_key(table: Table, key: dict[str, Any]) -> tuple[Any, ...]:
    names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
    return tuple(_key_value(DynamoType(key[name])) for name in names if name in key)


def _projected(item: Item, expressions: list[list[str]]) -> Item:
    """``item.project(expressions)``, without the round trip through plain JSON where none is needed."""
    if any(len(path) != 1 or _LIST_INDEX.search(path[0]) for path in expressions):
        return item.project(expressions)
    try:
        attrs = {path[0]: _canonical(item.attrs[path[0]]) for path in expressions if path[0] in item.attrs}
    except _Unplain:
        return item.project(expressions)
    projected = Item(hash_key=item.hash_key, range_key=item.range_key, attrs={})
    for name, value in attrs.items():
        # A part of an item that passed the 400 KB check when written: like moto's own deepcopy,
        # skip LimitedSizeDict's re-measure of the whole item on every insert.
        dict.__setitem__(projected.attrs, name, DynamoType(value))
    return projected


def _canonical(value: DynamoType) -> dict[str, Any]:
    """``value`` in wire form as moto's projection returns it: numbers canonical; sets and binary refused."""
    if value.type in ("S", "BOOL"):
        return {value.type: value.value}
    if value.type == "N":
        return {"N": str(DYNAMODB_CONTEXT.create_decimal(value.value))}
    if value.type == "NULL":
        return {"NULL": True}
    if value.type == "L":
        return {"L": [_canonical(member) for member in value.value]}
    if value.type == "M":
        return {"M": {name: _canonical(member) for name, member in value.value.items()}}
    raise _Unplain(value.type)


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
