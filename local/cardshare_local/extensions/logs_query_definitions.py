"""CloudWatch Logs Insights saved queries (query definitions), which moto 5.2.5 does not know.

AWS keeps a query definition per account and region: a name (folders written with "/"), a query
string and optionally the log groups it runs on. PutQueryDefinition creates one (or, given a
``queryDefinitionId``, replaces that one), DescribeQueryDefinitions lists them filtered by a name
prefix, DeleteQueryDefinition removes one. moto answers all three with "not yet implemented",
so a template with an ``AWS::Logs::QueryDefinition`` could not be deployed locally.

The definitions live on moto's own logs backend (attribute ``cardshare_query_definitions``), so a
backend reset forgets them with everything else. Queries are stored, never run.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from moto.logs.exceptions import InvalidParameterException, ResourceNotFoundException
from moto.logs.models import LogsBackend
from moto.logs.responses import LogsResponse

_ATTRIBUTE = "cardshare_query_definitions"
_OPERATIONS = ("put_query_definition", "describe_query_definitions", "delete_query_definition")
_INSTALLED: list[str] = []


def install() -> None:
    """Add the three operations to moto's logs service (idempotent)."""
    if _INSTALLED:
        return
    LogsResponse.put_query_definition = _put  # type: ignore[attr-defined]
    LogsResponse.describe_query_definitions = _describe  # type: ignore[attr-defined]
    LogsResponse.delete_query_definition = _delete  # type: ignore[attr-defined]
    _INSTALLED.extend(_OPERATIONS)


def uninstall() -> None:
    """Give moto back its own logs service."""
    while _INSTALLED:
        delattr(LogsResponse, _INSTALLED.pop())


def definitions(backend: LogsBackend) -> dict[str, dict[str, Any]]:
    """The backend's query definitions by id (created on first use)."""
    found: dict[str, dict[str, Any]] | None = getattr(backend, _ATTRIBUTE, None)
    if found is None:
        found = {}
        setattr(backend, _ATTRIBUTE, found)
    return found


def _require(parameter: str, value: Any, low: int, high: int) -> str:
    if not isinstance(value, str) or not low <= len(value) <= high:
        raise InvalidParameterException(
            constraint=f"Member must have length between {low} and {high}", parameter=parameter, value=value
        )
    return value


def _put(self: LogsResponse) -> str:
    name = _require("name", self._get_param("name"), 1, 255)
    query = _require("queryString", self._get_param("queryString"), 1, 10000)
    stored = definitions(self.logs_backend)
    identifier = self._get_param("queryDefinitionId")
    if identifier is not None and identifier not in stored:
        raise ResourceNotFoundException(f"Query definition {identifier} does not exist.")
    identifier = identifier or str(uuid.uuid4())
    stored[identifier] = {
        "queryLanguage": self._get_param("queryLanguage") or "CWLI",
        "queryDefinitionId": identifier,
        "name": name,
        "queryString": query,
        "lastModified": int(time.time() * 1000),
        "logGroupNames": list(self._get_param("logGroupNames") or []),
    }
    return json.dumps({"queryDefinitionId": identifier})


def _describe(self: LogsResponse) -> str:
    prefix = self._get_param("queryDefinitionNamePrefix") or ""
    found = [d for d in definitions(self.logs_backend).values() if d["name"].startswith(prefix)]
    return json.dumps({"queryDefinitions": sorted(found, key=lambda d: d["name"])})


def _delete(self: LogsResponse) -> str:
    identifier = self._get_param("queryDefinitionId")
    stored = definitions(self.logs_backend)
    if identifier not in stored:
        raise ResourceNotFoundException(f"Query definition {identifier} does not exist.")
    del stored[identifier]
    return json.dumps({"success": True})
