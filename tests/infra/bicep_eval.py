"""Evaluate the Bicep expressions our templates use, over pycep's parse tree, for chosen parameters.

The Bicep CLI cannot run here, so the tests evaluate the template's own expressions (loops, `filter`,
`concat`, interpolation) rather than restating what they should produce. A local module's outputs are
evaluated from its own template with the parameters the caller passes, so a value computed in a module is
checked like one computed in main.bicep. Values known only during a deployment (resource properties, outputs
of looped modules, `uniqueString`) evaluate to `UNKNOWN`; an expression form
this evaluator does not know raises `UnsupportedExpression`, so a test never passes on a guess.
pycep leaves identifiers and string literals both as `str`: a string is an identifier when it names
something in scope, and interpolations `${...}` are parsed again with pycep and evaluated.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pycep import BicepParser

INTERPOLATION = re.compile(r"\$\{([^{}]*)\}")


class UnsupportedExpression(Exception):
    """The template uses an expression form this evaluator does not implement."""


class _Unknown:
    """A value only the deployment knows; any access into it stays unknown."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()

DEPLOYMENT_TIME_FUNCTIONS = frozenset({"unique_string", "subscription", "resource_group", "guid", "tenant"})


@functools.cache
def parse_file(path: Path) -> dict[str, Any]:
    """pycep's tree of one Bicep file; raises lark's parse error when pycep cannot read it."""
    return BicepParser().parse(file_path=path)


@functools.cache
def _parse_expression(text: str) -> Any:
    return BicepParser().parse(text=f"var expression = {text}\n")["variables"]["expression"]["value"]


class Template:
    """One parsed template with parameter values; variables are evaluated on demand."""

    def __init__(self, path: Path, parameters: Mapping[str, Any]) -> None:
        self.tree = parse_file(path)
        unknown_parameters = set(parameters) - set(self.tree["parameters"])
        if unknown_parameters:
            raise KeyError(f"{path.name} has no parameters {sorted(unknown_parameters)}")
        self._parameters = dict(parameters)
        self.path = path
        self._variables: dict[str, Any] = {}
        self._deployment_names = set(self.tree.get("resources", {})) | set(self.tree.get("modules", {}))

    def variable(self, name: str) -> Any:
        if name not in self._variables:
            self._variables[name] = self.evaluate(self.tree["variables"][name]["value"], {})
        return self._variables[name]

    def lookup(self, name: str, local: Mapping[str, Any]) -> tuple[bool, Any]:
        """(True, value) when `name` is an identifier in scope, else (False, None): it is a literal."""
        if name in local:
            return True, local[name]
        if name in self._parameters:
            return True, self._parameters[name]
        if name in self.tree["parameters"]:
            if "default" not in self.tree["parameters"][name]:
                raise KeyError(f"parameter {name} has no default; pass a value")
            return True, self.evaluate(self.tree["parameters"][name]["default"], {})
        if name in self.tree.get("variables", {}):
            return True, self.variable(name)
        if name in self.tree.get("modules", {}) and "loop_type" not in self.tree["modules"][name]["config"]:
            return True, {"outputs": _ModuleOutputs(self, name)}
        if name in self._deployment_names:
            return True, UNKNOWN
        return False, None

    def module(self, name: str) -> Template:
        """The template of the (unlooped) module `name`, with the parameters this template passes it."""
        declaration = self.tree["modules"][name]
        config = declaration["config"]
        body = config["config"] if "condition" in config else config
        parameters = {key: self.evaluate(value, {}) for key, value in body.get("params", {}).items()}
        return Template(self.path.parent / declaration["detail"]["path"], parameters)

    def output(self, name: str) -> Any:
        return self.evaluate(self.tree["outputs"][name]["value"], {})

    def evaluate(self, node: Any, local: Mapping[str, Any]) -> Any:
        """The value of one pycep node, with loop variables and lambda parameters in `local`."""
        if isinstance(node, str):
            return self._string(node, local)
        if node is None or isinstance(node, bool | int):
            return node
        if isinstance(node, list):
            return [self.evaluate(item, local) for item in node]
        if isinstance(node, dict):
            if "loop_type" in node:
                return self.evaluate_loop(node, local)
            if set(node) == {"function"}:
                return self._function(node["function"], local)
            if set(node) == {"operator"}:
                return self._operator(node["operator"], local)
            return {key: self.evaluate(value, local) for key, value in node.items()}
        raise UnsupportedExpression(repr(node))

    def evaluate_loop(self, node: Mapping[str, Any], local: Mapping[str, Any]) -> list[Any]:
        """A `[for ...]` expression: one evaluated body per iteration that passes its condition."""
        loop_type, detail = node["loop_type"]["type"], node["loop_type"]["detail"]
        if loop_type in ("array", "array_index"):
            items = self.evaluate(detail["array_name"], local)
            bindings = [
                {detail["item_name"]: item, **({detail["index_name"]: i} if loop_type == "array_index" else {})}
                for i, item in enumerate(items)
            ]
        elif loop_type == "range":
            start = self.evaluate(detail["start_index"], local)
            count = self.evaluate(detail["count"], local)
            bindings = [
                {detail["item_name"]: start + i, detail["index_name"]: i}
                if detail["item_name"]
                else {detail["index_name"]: start + i}
                for i in range(count)
            ]
        else:
            raise UnsupportedExpression(f"loop over {loop_type}")
        results = []
        for binding in bindings:
            scope = {**local, **binding}
            if node["condition"] is None or self.evaluate(node["condition"], scope):
                results.append(self.evaluate(node["config"], scope))
        return results

    def _string(self, text: str, local: Mapping[str, Any]) -> Any:
        found, value = self.lookup(text, local)
        if found:
            return value
        if "${" not in text:
            return text

        def substitute(match: re.Match[str]) -> str:
            value = self.evaluate(_parse_expression(match.group(1)), local)
            return "<unknown>" if value is UNKNOWN else str(value)

        return INTERPOLATION.sub(substitute, text)

    def _function(self, function: Mapping[str, Any], local: Mapping[str, Any]) -> Any:
        kind = function["type"]
        if kind in DEPLOYMENT_TIME_FUNCTIONS:
            return UNKNOWN
        parameters = function["parameters"]
        if kind == "filter":
            items = self.evaluate(parameters["input_array"], local)
            element, expression = parameters["input_element"], parameters["expression"]
            return [item for item in items if self.evaluate(expression, {**local, element: item})]
        args = [self.evaluate(value, local) for value in parameters.values()]
        if kind not in FUNCTIONS:
            raise UnsupportedExpression(f"function {kind}")
        if any(arg is UNKNOWN for arg in args):
            return UNKNOWN
        return FUNCTIONS[kind](*args)

    def _operator(self, operator: Mapping[str, Any], local: Mapping[str, Any]) -> Any:
        kind, operands = operator["type"], operator["operands"]
        if kind == "property_accessor":
            return self._access(self.evaluate(operands["operand_1"], local), operands["operand_2"], local)
        if kind == "index_accessor":
            base = self.evaluate(operands["operand_1"], local)
            return UNKNOWN if base is UNKNOWN else base[self.evaluate(operands["operand_2"], local)]
        if kind == "conditional":
            branch = "true_value" if self.evaluate(operands["condition"], local) else "false_value"
            return self.evaluate(operands[branch], local)
        args = [self.evaluate(value, local) for value in operands.values()]
        if kind not in OPERATORS:
            raise UnsupportedExpression(f"operator {kind}")
        return OPERATORS[kind](*args)

    def _access(self, base: Any, path: Any, local: Mapping[str, Any]) -> Any:
        """`base.path`, where pycep nests the rest of a chain (`.b.c[0].d`) in the right operand."""
        if base is UNKNOWN:
            return UNKNOWN
        if isinstance(path, str):
            return base[path]
        operator = path["operator"]
        first, rest = operator["operands"]["operand_1"], operator["operands"]["operand_2"]
        if operator["type"] == "property_accessor":
            return self._access(self._access(base, first, local), rest, local)
        if operator["type"] == "index_accessor":
            return self._access(base, first, local)[self.evaluate(rest, local)]
        raise UnsupportedExpression(f"accessor {operator['type']}")


class _ModuleOutputs(Mapping[str, Any]):
    """`<module>.outputs`: each output evaluated from the module's template on first access."""

    def __init__(self, parent: Template, name: str) -> None:
        self._parent, self._name = parent, name

    @functools.cached_property
    def _template(self) -> Template:
        return self._parent.module(self._name)

    def __getitem__(self, key: str) -> Any:
        return self._template.output(key)

    def __iter__(self) -> Any:
        return iter(self._template.tree["outputs"])

    def __len__(self) -> int:
        return len(self._template.tree["outputs"])


def _flatten(items: list[Any]) -> list[Any]:
    return [inner for outer in items for inner in outer]


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "concat": lambda *arrays: [item for array in arrays for item in array],
    "contains": lambda container, item: item in container,
    "empty": lambda value: not value,
    "flatten": _flatten,
    "join": lambda items, delimiter: delimiter.join(items),
    "length": len,
    "take": lambda value, count: value[:count],
    "to_lower": str.lower,
    "to_upper": str.upper,
    "union": lambda *objects: functools.reduce(lambda merged, item: {**merged, **item}, objects, {}),
}

OPERATORS: dict[str, Callable[..., Any]] = {
    "add": lambda a, b: a + b,
    "and": lambda a, b: a and b,
    "divide": lambda a, b: a // b,
    "equals": lambda a, b: a == b,
    "modulo": lambda a, b: a % b,
    "multiply": lambda a, b: a * b,
    "not": lambda value: not value,
    "not_equals": lambda a, b: a != b,
    "or": lambda a, b: a or b,
    "substract": lambda a, b: a - b,
}
