"""The ``AWS::LanguageExtensions`` transform's ``Fn::ForEach``, as CloudFormation expands it.

CloudFormation runs this transform before SAM's: each ``Fn::ForEach::<Loop>: [Identifier,
Collection, Fragment]`` in Conditions, Resources (properties included) and Outputs is replaced by
one copy of the fragment per item of the collection. In a copy, ``${Identifier}`` and
``&{Identifier}`` (the item without its non-alphanumeric characters) are replaced in keys and in
``Fn::Sub`` strings, and ``Ref: Identifier`` becomes the item. A ``Fn::Sub`` left with nothing to
substitute becomes its string, which is how ``Ref: !Sub "${Stage}AccountIds"`` names a parameter.
Condition names inside ``Fn::If`` are not substituted (CloudFormation does not either), and plain
strings are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from cardshare_local.template import TemplateError

TRANSFORM = "AWS::LanguageExtensions"
_FOR_EACH = re.compile(r"^Fn::ForEach::[A-Za-z0-9]+$")
_SECTIONS = ("Conditions", "Resources", "Outputs")
_NOT_ALPHANUMERIC = re.compile(r"[^0-9A-Za-z]+")


def uses_language_extensions(template: Mapping[str, Any]) -> bool:
    """Whether the template declares the transform (alone or in a list of transforms)."""
    transform = template.get("Transform", [])
    return TRANSFORM in (transform if isinstance(transform, list) else [transform])


def expand(template: Mapping[str, Any], parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The template with every ``Fn::ForEach`` expanded; ``parameters`` give Ref collections.

    ``parameters`` maps a parameter name to its value (a list for a CommaDelimitedList).
    Raises :class:`TemplateError` for a malformed loop or a generated key that already exists.
    """
    expanded = dict(template)
    for section in _SECTIONS:
        if section in template:
            expanded[section] = _walk(template[section], {}, parameters)
    return expanded


def _walk(node: Any, identifiers: Mapping[str, str], parameters: Mapping[str, Any]) -> Any:
    if isinstance(node, list):
        return [_walk(item, identifiers, parameters) for item in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        ((key, argument),) = node.items()
        special = _intrinsic(key, argument, identifiers, parameters)
        if special is not _NOT_SPECIAL:
            return special
    result: dict[str, Any] = {}
    for key, value in node.items():
        if isinstance(key, str) and _FOR_EACH.match(key):
            for generated_key, generated in _loop(key, value, identifiers, parameters).items():
                _add(result, generated_key, generated)
        else:
            _add(result, _replace(key, identifiers), _walk(value, identifiers, parameters))
    return result


_NOT_SPECIAL = object()


def _intrinsic(key: str, argument: Any, identifiers: Mapping[str, str], parameters: Mapping[str, Any]) -> Any:
    """Ref, Fn::Sub and Fn::If as the transform treats them; ``_NOT_SPECIAL`` for anything else."""
    if key == "Ref":
        if isinstance(argument, str) and argument in identifiers:
            return identifiers[argument]
        return {"Ref": _walk(argument, identifiers, parameters)}
    if key == "Fn::Sub":
        if isinstance(argument, str):
            return _sub(argument, identifiers)
        text, variables = argument
        return {"Fn::Sub": [_replace(text, identifiers), _walk(variables, identifiers, parameters)]}
    if key == "Fn::If" and isinstance(argument, list) and len(argument) == 3:
        condition, when_true, when_false = argument
        return {"Fn::If": [condition, *_walk([when_true, when_false], identifiers, parameters)]}
    return _NOT_SPECIAL


def _sub(text: str, identifiers: Mapping[str, str]) -> Any:
    replaced = _replace(text, identifiers)
    return replaced if "${" not in replaced else {"Fn::Sub": replaced}


def _replace(text: Any, identifiers: Mapping[str, str]) -> Any:
    if not isinstance(text, str):
        return text
    for name, value in identifiers.items():
        text = text.replace("${" + name + "}", value).replace("&{" + name + "}", _NOT_ALPHANUMERIC.sub("", value))
    return text


def _loop(key: str, value: Any, identifiers: Mapping[str, str], parameters: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(value, list) or len(value) != 3 or not isinstance(value[0], str):
        raise TemplateError(f"{key}: expected [Identifier, Collection, Fragment]")
    identifier, collection, fragment = value
    if not isinstance(fragment, dict):
        raise TemplateError(f"{key}: the fragment must be a mapping")
    generated: dict[str, Any] = {}
    for item in _collection(key, collection, identifiers, parameters):
        for generated_key, generated_value in _walk(fragment, {**identifiers, identifier: item}, parameters).items():
            _add(generated, generated_key, generated_value)
    return generated


def _collection(key: str, collection: Any, identifiers: Mapping[str, str], parameters: Mapping[str, Any]) -> list[str]:
    if isinstance(collection, dict) and set(collection) == {"Ref"}:
        name = collection["Ref"]
        values = parameters.get(name)
        if not isinstance(values, list):
            raise TemplateError(f"{key}: the collection Ref {name} is not a CommaDelimitedList parameter")
        collection = values
    if not isinstance(collection, list) or not all(isinstance(item, str) for item in collection):
        raise TemplateError(f"{key}: the collection must be a list of strings or a Ref to a CommaDelimitedList")
    return [_replace(item, identifiers) for item in collection]


def _add(target: dict[str, Any], key: str, value: Any) -> None:
    if key in target:
        raise TemplateError(f"Fn::ForEach generated {key}, which the template already has")
    target[key] = value
