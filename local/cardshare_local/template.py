"""Reading template.yaml: CloudFormation YAML tags and the intrinsic functions the stack uses.

The local runtime deploys from the real template, so what the template says (rule pattern, share
principals, permissions, state machine substitutions, function environment) is what runs locally.
Decoding (short-form tags, duplicate keys, positions) is cfn-lint's, the decoder it lints the template
with; resolving the intrinsics is ours. Only the intrinsics the template uses are resolved;
anything else fails loudly.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

# The long forms of CloudFormation's intrinsic functions. cfn-lint's decoder turns any ``!Name``
# tag into ``Fn::Name``, so a mistyped tag (``!Sbu``) would otherwise reach the resolver as an
# ordinary mapping and be deployed as data.
_INTRINSICS = frozenset(
    {
        "Fn::Sub",
        "Fn::GetAtt",
        "Fn::Join",
        "Fn::If",
        "Fn::Equals",
        "Fn::Not",
        "Fn::And",
        "Fn::Or",
        "Fn::Select",
        "Fn::Split",
        "Fn::FindInMap",
        "Fn::Base64",
        "Fn::GetAZs",
        "Fn::ImportValue",
        "Fn::Cidr",
        "Fn::Transform",
        "Fn::ToJsonString",
        "Fn::Length",
    }
)


# Fn::ForEach::<LoopName>, expanded by language_extensions before anything is resolved.
_FOR_EACH = re.compile(r"^Fn::ForEach::[A-Za-z0-9]+$")


class TemplateError(ValueError):
    """The template uses something the local runtime cannot resolve."""


def _plain(node: Any) -> Any:
    """cfn-lint's decoded nodes as plain dicts, lists and strs.

    The decoder returns dict/list/str subclasses carrying source positions; callers compare,
    copy and serialise the template, so they get the built-in types. Unknown ``Fn::`` keys are
    rejected here, where the node still knows its line.
    """
    if isinstance(node, dict):
        for key in node:
            if isinstance(key, str) and key.startswith("Fn::") and key not in _INTRINSICS and not _FOR_EACH.match(key):
                raise TemplateError(f"line {_line(node)}: unknown intrinsic function {key}")
        return {(str(key) if isinstance(key, str) else key): _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(item) for item in node]
    if isinstance(node, str):
        return str(node)
    return node


def _line(node: Any) -> str:
    mark = getattr(node, "start_mark", None)
    return str(mark.line + 1) if mark is not None else "?"


def parse_template(text: str) -> dict[str, Any]:
    """Parse CloudFormation/SAM YAML (or JSON), short-form tags turned into their long form.

    Raises :class:`TemplateError` with a one-line message naming the line for anything the
    decoder rejects (bad YAML, duplicate keys, undefined aliases).
    """
    # Imported here: cfn-lint takes most of a second to import, and only deploys parse templates.
    # cfn-lint ships no type information (no py.typed), hence import-untyped.
    from cfnlint.decode import decode_str  # type: ignore[import-untyped]

    document, errors = decode_str(text)
    if errors:
        # YAML messages can span lines ("... in <unicode string>, line 4"): keep the error one line.
        messages = "; ".join(" ".join(str(error.message).split()) for error in errors)
        raise TemplateError(f"line {errors[0].linenumber}: {messages}")
    if not isinstance(document, dict) or "Resources" not in document:
        raise TemplateError("not a CloudFormation template (no Resources)")
    plain: dict[str, Any] = _plain(document)
    return plain


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
        self.mappings: Mapping[str, Any] = template.get("Mappings", {})

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
            pattern = spec.get("AllowedPattern")
            if pattern is not None and not re.fullmatch(str(pattern), raw):
                raise TemplateError(f"parameter {name}: {raw!r} does not match its AllowedPattern {pattern}")
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


def _find_in_map(resolver: Resolver, argument: Any) -> Any:
    name, top, second = (str(resolver.resolve(item)) for item in argument[:3])
    try:
        return resolver.mappings[name][top][second]
    except KeyError:
        raise TemplateError(f"Fn::FindInMap [{name}, {top}, {second}]: no such entry") from None


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
    "Fn::FindInMap": _find_in_map,
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
