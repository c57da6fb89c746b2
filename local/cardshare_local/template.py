"""Reading template.yaml: CloudFormation YAML tags and the intrinsic functions the stack uses.

The local runtime deploys from the real template, so what the template says (rule pattern, share
principals, permissions, state machine substitutions, function environment) is what runs locally.
Only the intrinsics the template uses are supported; anything else fails loudly.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

_SHORT_TAGS = {
    "!Ref": "Ref",
    "!Condition": "Condition",
    "!Sub": "Fn::Sub",
    "!GetAtt": "Fn::GetAtt",
    "!Join": "Fn::Join",
    "!If": "Fn::If",
    "!Equals": "Fn::Equals",
    "!Not": "Fn::Not",
    "!And": "Fn::And",
    "!Or": "Fn::Or",
    "!Select": "Fn::Select",
    "!Split": "Fn::Split",
    "!FindInMap": "Fn::FindInMap",
    "!Base64": "Fn::Base64",
    "!GetAZs": "Fn::GetAZs",
    "!ImportValue": "Fn::ImportValue",
    "!Cidr": "Fn::Cidr",
    "!Transform": "Fn::Transform",
    "!ToJsonString": "Fn::ToJsonString",
    "!Length": "Fn::Length",
}


class TemplateError(ValueError):
    """The template uses something the local runtime cannot resolve."""


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that reads CloudFormation short-form tags into their long form."""


def _construct(tag: str, name: str) -> Callable[[yaml.SafeLoader, yaml.Node], dict[str, Any]]:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if tag == "!GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {name: value}

    return construct


for _tag, _name in _SHORT_TAGS.items():
    _CfnLoader.add_constructor(_tag, _construct(_tag, _name))


def parse_template(text: str) -> dict[str, Any]:
    """Parse CloudFormation/SAM YAML, short-form tags turned into their long form."""
    document = yaml.load(text, Loader=_CfnLoader)
    if not isinstance(document, dict) or "Resources" not in document:
        raise TemplateError("not a CloudFormation template (no Resources)")
    return document


def load_template(path: Path) -> dict[str, Any]:
    """Parse a template file."""
    try:
        return parse_template(path.read_text(encoding="utf-8"))
    except TemplateError as error:
        raise TemplateError(f"{path}: {error}") from None


NO_VALUE = object()
_SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


class Resolver:
    """Resolves intrinsic functions against parameters, pseudo parameters and deployed resources."""

    def __init__(
        self,
        template: Mapping[str, Any],
        parameters: Mapping[str, str],
        pseudo: Mapping[str, str],
    ) -> None:
        self._template = template
        self._pseudo = dict(pseudo)
        self.parameters = self._parameter_values(parameters)
        self.refs: dict[str, Any] = {}
        self.attributes: dict[tuple[str, str], Any] = {}
        self._conditions: dict[str, bool] = {}

    def _parameter_values(self, overrides: Mapping[str, str]) -> dict[str, Any]:
        declared = self._template.get("Parameters", {})
        unknown = set(overrides) - set(declared)
        if unknown:
            raise TemplateError(f"unknown parameter(s): {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for name, spec in declared.items():
            if name in overrides:
                raw = str(overrides[name])
            elif "Default" in spec:
                raw = str(spec["Default"])
            else:
                raise TemplateError(f"parameter {name}: no value and no default")
            allowed = spec.get("AllowedValues")
            if allowed is not None and raw not in {str(a) for a in allowed}:
                raise TemplateError(f"parameter {name}: {raw!r} is not one of {allowed}")
            values[name] = raw.split(",") if spec.get("Type") == "CommaDelimitedList" else raw
        return values

    def condition(self, name: str) -> bool:
        """Evaluate a named condition (memoized)."""
        if name not in self._conditions:
            conditions = self._template.get("Conditions", {})
            if name not in conditions:
                raise TemplateError(f"unknown condition {name}")
            self._conditions[name] = bool(self.resolve(conditions[name]))
        return self._conditions[name]

    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic in ``value``; AWS::NoValue entries are dropped."""
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            function = _FUNCTIONS.get(key)
            if function is not None:
                return function(self, argument)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def ref(self, name: str) -> Any:
        """The value of ``Ref name``: a pseudo parameter, a parameter or a deployed resource."""
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self._pseudo:
            return self._pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]
        raise TemplateError(f"Ref {name}: not a parameter, pseudo parameter or deployed resource")

    def get_att(self, resource: str, attribute: str) -> Any:
        """The value of ``Fn::GetAtt [resource, attribute]`` for a deployed resource."""
        try:
            return self.attributes[(resource, attribute)]
        except KeyError:
            raise TemplateError(f"GetAtt {resource}.{attribute}: not available locally") from None

    def substitute(self, text: str, variables: Mapping[str, Any]) -> str:
        """``Fn::Sub`` text substitution."""

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                value = variables[name]
            elif "." in name:
                resource, attribute = name.split(".", 1)
                value = self.get_att(resource, attribute)
            else:
                value = self.ref(name)
            if isinstance(value, list):
                raise TemplateError(f"Fn::Sub ${{{name}}}: a list cannot be substituted into a string")
            return str(value)

        return _SUB_VARIABLE.sub(replace, text)


def _sub(resolver: Resolver, argument: Any) -> str:
    if isinstance(argument, str):
        return resolver.substitute(argument, {})
    text, variables = argument
    return resolver.substitute(text, {k: resolver.resolve(v) for k, v in variables.items()})


def _get_att(resolver: Resolver, argument: Any) -> Any:
    resource, attribute = argument if isinstance(argument, list) else str(argument).split(".", 1)
    return resolver.get_att(resource, attribute)


def _join(resolver: Resolver, argument: Any) -> str:
    delimiter, items = argument
    values = resolver.resolve(items)
    return str(delimiter).join(str(v) for v in values)


def _if(resolver: Resolver, argument: Any) -> Any:
    name, when_true, when_false = argument
    return resolver.resolve(when_true if resolver.condition(name) else when_false)


def _select(resolver: Resolver, argument: Any) -> Any:
    index, items = argument
    return resolver.resolve(items)[int(resolver.resolve(index))]


def _split(resolver: Resolver, argument: Any) -> list[str]:
    delimiter, text = argument
    return str(resolver.resolve(text)).split(delimiter)


_FUNCTIONS: dict[str, Callable[[Resolver, Any], Any]] = {
    "Ref": lambda r, a: r.ref(a),
    "Condition": lambda r, a: r.condition(a),
    "Fn::Sub": _sub,
    "Fn::GetAtt": _get_att,
    "Fn::Join": _join,
    "Fn::If": _if,
    "Fn::Equals": lambda r, a: str(r.resolve(a[0])) == str(r.resolve(a[1])),
    "Fn::Not": lambda r, a: not r.resolve(a[0]),
    "Fn::And": lambda r, a: all(r.resolve(x) for x in a),
    "Fn::Or": lambda r, a: any(r.resolve(x) for x in a),
    "Fn::Select": _select,
    "Fn::Split": _split,
}


def references(value: Any) -> set[str]:
    """Logical IDs a template fragment refers to (Ref, GetAtt, Sub variables)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                found.add(item)
            elif key == "Fn::GetAtt":
                found.add(item[0] if isinstance(item, list) else str(item).split(".", 1)[0])
            elif key == "Fn::Sub":
                text = item if isinstance(item, str) else item[0]
                found |= {name.split(".", 1)[0] for name in _SUB_VARIABLE.findall(text)}
                if not isinstance(item, str):
                    found |= references(item[1])
            else:
                found |= references(item)
    return found
