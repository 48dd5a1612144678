"""The Bicep compiler's deploy-time-constant rules this project's templates could break, over pycep's tree.

No Bicep CLI runs here, so the rules are restated from the compiler's source (Azure/bicep, read at commit
9beb0fee60ca53458f41492b699af440367b240b):

* `src/Bicep.Core/TypeSystem/DeployTimeConstantContainerVisitor.cs` collects the places that need values
  known at the start of the deployment: every `for` (loop) and `if` (condition), and resource properties
  flagged DeployTimeConstant. For an `existing` resource it visits only nested resources, not its body.
* `src/Bicep.Core/TypeSystem/DeployTimeConstantValidator.cs` (`GetDeployTimeConstantChildContainers`): in a
  variable's `for`, both the for-expression and the body are checked (BCP182); elsewhere only the
  for-expression (BCP178); an `if` checks its condition (BCP177). Variables used there are followed
  (`VariableDependencyVisitor`, the "variable dependency chain" of the diagnostics).
* `src/Bicep.Core/TypeSystem/DeployTimeConstantDirectViolationVisitor.cs` flags a property read from a resource
  or module unless the property is ReadableAtDeployTime; `Providers/Az/AzResourceTypeProvider.cs` makes that
  `id`, `name`, `type`, `apiVersion` of a resource (`ReadWriteDeployTimeConstantPropertyNames`), and
  `LanguageConstants.cs` only `name` of a module. It also flags functions that need inlining (`reference`,
  `list*`).
* `AzResourceTypeProvider.cs` (`WriteOnlyDeployTimeConstantPropertyNames` and the name/parent/scope flags) makes
  a resource's `name`, `location`, `kind`, `sku`, `identity`, `tags`, `parent` and `scope` deploy-time constant
  (BCP120); `LanguageConstants.cs` does so for a module's `name` and `scope`.

`deploy_time_violations` returns one readable line per violation, so a test shows what to move where.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from bicep_eval import INTERPOLATION, _parse_expression

RESOURCE_READABLE_AT_START = frozenset({"id", "name", "type", "apiVersion"})
MODULE_READABLE_AT_START = frozenset({"name"})
RESOURCE_CONSTANT_PROPERTIES = ("name", "location", "kind", "sku", "identity", "tags", "parent", "scope")
MODULE_CONSTANT_PROPERTIES = ("name", "scope")
INLINED_FUNCTIONS = frozenset({"reference", "list_func"})


def deploy_time_violations(tree: Mapping[str, Any]) -> list[str]:
    """Every read of a deploy-time value where the compiler needs a value known at the start."""
    checker = _Checker(tree)
    return [f"{where}: {problem}" for where, node in _containers(tree) for problem in checker.runtime_reads(node)]


def _containers(tree: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    for name, variable in tree.get("variables", {}).items():
        value = variable["value"]
        if isinstance(value, dict) and "loop_type" in value:
            yield f"variable {name} (for-expression and body, BCP182)", value
    kinds = (("resources", RESOURCE_CONSTANT_PROPERTIES), ("modules", MODULE_CONSTANT_PROPERTIES))
    for kind, constant_properties in kinds:
        for name, declaration in tree.get(kind, {}).items():
            if declaration.get("existing"):
                continue  # the compiler skips an existing resource's body
            config = declaration["config"]
            if "loop_type" in config:
                yield f"{kind[:-1]} {name} loop (for-expression, BCP178)", _loop_expression(config)
            if config.get("condition") is not None:
                yield f"{kind[:-1]} {name} condition (BCP177)", config["condition"]
            if "loop_type" in config or "condition" in config:
                config = config["config"]
            for prop in constant_properties:
                if prop in config:
                    yield f"{kind[:-1]} {name} property {prop} (BCP120)", config[prop]


def _loop_expression(loop: Mapping[str, Any]) -> list[Any]:
    detail = loop["loop_type"]["detail"]
    return [detail.get(key) for key in ("array_name", "start_index", "count") if key in detail]


class _Checker:
    def __init__(self, tree: Mapping[str, Any]) -> None:
        self.variables = tree.get("variables", {})
        self.resources = set(tree.get("resources", {}))
        self.modules = set(tree.get("modules", {}))

    def runtime_reads(self, node: Any) -> list[str]:
        return list(dict.fromkeys(self._walk(node, frozenset(), ())))

    def _walk(self, node: Any, local: frozenset[str], chain: tuple[str, ...]) -> Iterator[str]:
        if isinstance(node, str):
            yield from self._string(node, local, chain)
        elif isinstance(node, list):
            for item in node:
                yield from self._walk(item, local, chain)
        elif isinstance(node, dict):
            yield from self._dict(node, local, chain)

    def _dict(self, node: Mapping[str, Any], local: frozenset[str], chain: tuple[str, ...]) -> Iterator[str]:
        if "loop_type" in node:
            detail = node["loop_type"]["detail"]
            yield from self._walk(_loop_expression(node), local, chain)
            bound = local | {detail.get(key) for key in ("item_name", "index_name") if detail.get(key)}
            yield from self._walk([node.get("condition"), node["config"]], bound, chain)
            return
        if set(node) == {"operator"} and node["operator"]["type"] in ("property_accessor", "index_accessor"):
            access = self._symbol_access(node["operator"], local)
            if access is not None:
                symbol, first = access
                allowed = RESOURCE_READABLE_AT_START if symbol in self.resources else MODULE_READABLE_AT_START
                if first not in allowed:
                    yield _describe(symbol, first, chain)
        if set(node) == {"function"}:
            function = node["function"]
            if function["type"] in INLINED_FUNCTIONS:
                yield _describe(f"{function['type']}()", None, chain)
            if function["type"] in ("filter", "map", "sort", "reduce", "to_object"):
                parameters = function["parameters"]
                lambda_names = {parameters.get(key) for key in ("input_element", "input_index", "accumulator")}
                local = local | {name for name in lambda_names if isinstance(name, str)}
        for value in node.values():
            yield from self._walk(value, local, chain)

    def _symbol_access(self, operator: Mapping[str, Any], local: frozenset[str]) -> tuple[str, str] | None:
        """(resource or module, first property read) for `sym.prop...` or `sym[i].prop...`, else None."""
        base, rest = operator["operands"]["operand_1"], operator["operands"]["operand_2"]
        if isinstance(base, dict) and base.get("operator", {}).get("type") == "index_accessor":
            if operator["type"] != "property_accessor":
                return None
            base = base["operator"]["operands"]["operand_1"]
        elif operator["type"] != "property_accessor":
            return None
        if not isinstance(base, str) or base in local or base not in self.resources | self.modules:
            return None
        while isinstance(rest, dict):
            rest = rest["operator"]["operands"]["operand_1"]
        return base, rest

    def _string(self, text: str, local: frozenset[str], chain: tuple[str, ...]) -> Iterator[str]:
        if text in local:
            return
        if text in self.variables and text not in chain:
            yield from self._walk(self.variables[text]["value"], local, (*chain, text))
            return
        for expression in INTERPOLATION.findall(text):
            yield from self._walk(_parse_expression(expression), local, chain)


def _describe(symbol: str, prop: str | None, chain: tuple[str, ...]) -> str:
    read = symbol if prop is None else f"{symbol}.{prop}"
    return f"reads {read}" + (f" (through variables {' -> '.join(chain)})" if chain else "")
