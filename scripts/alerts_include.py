"""Write the alert rules of alerts.py into includes/monitoring/alerts.jinja.

    python3 -m uv run scripts/alerts_include.py [--check]

The generated project's src/<package>/core/monitoring/alerts.py is the one definition of every
alert rule: its expression, severity, summary and description, and the promtool test
series that make it fire and keep it quiet, as printf-style templates ("%(max_error_rate)g")
over `named_values(t)`: the thresholds and a few values computed from them. Copier cannot
run that Python at copy time (no `--trust`), so the Jinja include that renders a new
project's alerts.yml, alerts.test.yml and PrometheusRule holds a copy, between the
`generated:begin` and `generated:end` markers, written by this script:

- the constants the documents use (`DOCUMENT_CONSTANTS`), as their values;
- `SERVICE_ALERTS` and `PREDICTION_ALERTS`, the templates as alerts.py builds them;
- `named_values`, translated from its source into one Jinja expression per value.

Python's `%` and Jinja's `format` filter fill the same templates with the same numbers, so
both write the same bytes. The include's hand-written rest is generic machinery (filling
the templates, the YAML documents) that names no rule. `--check` writes nothing and exits 1
while the copy differs from alerts.py.
"""

import ast
import dataclasses
import importlib
import importlib.util
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scripts.generated import ROOT, write_or_check

# The one place that says where the generated project's alert rules are.
ALERTS = ROOT / "template" / "src" / "{{ package_name }}" / "core" / "monitoring" / "alerts.py"
INCLUDE = ROOT / "includes" / "monitoring" / "alerts.jinja"
COMMAND = "python3 -m uv run scripts/alerts_include.py"
BEGIN = "{#- generated:begin by scripts/alerts_include.py from alerts.py -#}"
END = "{#- generated:end -#}"
DOCUMENT_CONSTANTS = ("HEADER", "RULES_FILE", "GROUP", "INTERVAL", "PROMETHEUS_RULE")
# What a template may hold: a named value as a whole number or a %g number, or a "%".
PLACEHOLDER = re.compile(r"%\((\w+)\)[dg]|%%")
OPERATORS = {ast.Add: ("+", 1), ast.Sub: ("-", 1), ast.Mult: ("*", 2), ast.Div: ("/", 2)}


def load_alerts(path: Path = ALERTS):
    """The alerts module of a generated package's monitoring folder (pydantic and PyYAML)."""
    name = "template_monitoring"
    spec = importlib.util.spec_from_file_location(
        name, path.parent / "__init__.py", submodule_search_locations=[str(path.parent)]
    )
    package = importlib.util.module_from_spec(spec)
    sys.modules[name] = package
    try:
        spec.loader.exec_module(package)
        return importlib.import_module(f"{name}.{path.stem}")
    finally:
        for loaded in [key for key in sys.modules if key.startswith(name)]:
            del sys.modules[loaded]


def literal(value: object) -> str:
    """A Python value as a Jinja literal."""
    if isinstance(value, str):
        return json.dumps(value)  # Jinja reads the same escapes
    if value is None or isinstance(value, bool):
        return {None: "none", True: "true", False: "false"}[value]
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(literal(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    raise SystemExit(f"{ALERTS.name}: no Jinja literal for {value!r}")


class Translation:
    """`named_values` of alerts.py as Jinja expressions, one per value."""

    def __init__(self, module, source: str):
        self.module = module
        tree = ast.parse(source)
        self.functions = {
            node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)
        }
        function = self.functions.get("named_values")
        if function is None:
            raise SystemExit(f"{ALERTS.name} has no named_values(t)")
        self.thresholds = function.args.args[0].arg
        self.fields = set(module.Thresholds.model_fields)
        returned = self.body(function)
        dumped = f"{self.thresholds}.model_dump()"
        if not (
            isinstance(returned, ast.BinOp)
            and isinstance(returned.op, ast.BitOr)
            and ast.unparse(returned.left) == dumped
            and isinstance(returned.right, ast.Dict)
            and all(isinstance(key, ast.Constant) for key in returned.right.keys)
        ):
            self.refuse(returned, f"named_values returns {dumped} | {{name: expression, ...}}")
        self.values = {
            key.value: self.expression(value, {})
            for key, value in zip(returned.right.keys, returned.right.values, strict=True)
        }

    def refuse(self, node: ast.AST, why: str):
        raise SystemExit(f"{ALERTS.name}:{node.lineno}: {why} (`{ast.unparse(node)}`)")

    def body(self, function: ast.FunctionDef) -> ast.expr:
        """The one expression a function returns, after an optional docstring."""
        statements = function.body
        if statements and isinstance(statements[0], ast.Expr):
            statements = statements[1:]
        if len(statements) != 1 or not isinstance(statements[0], ast.Return):
            self.refuse(function, f"{function.name}() must be one return statement")
        return statements[0].value

    def expression(self, node: ast.expr, names: dict[str, tuple[str, int]]) -> str:
        return self.translate(node, names)[0]

    def translate(self, node: ast.expr, names: dict[str, tuple[str, int]]) -> tuple[str, int]:
        """A Jinja expression and its precedence (0: a filtered one, 1: + -, 2: * /, 3: an
        operand), so that it is put in parentheses where Python's order needs them."""
        match node:
            case ast.Constant(value=bool()):
                self.refuse(node, "a named value is a number")
            case ast.Constant(value=int() | float() as value):
                return repr(value), 3
            case ast.Attribute(value=ast.Name(id=owner), attr=attr) if owner == self.thresholds:
                if attr not in self.fields:
                    self.refuse(node, f"{attr} is not a threshold")
                if hasattr(dict, attr):  # Jinja's t.items would be the dict's method
                    self.refuse(node, f"a threshold named {attr} needs t[{attr!r}] in Jinja")
                return f"t.{attr}", 3
            case ast.Name(id=name) if name in names:
                return names[name]
            case ast.Name(id=name):
                value = getattr(self.module, name, None)
                if isinstance(value, bool) or not isinstance(value, int | float):
                    self.refuse(node, f"{name} is not a number constant of the module")
                return repr(value), 3
            case ast.BinOp(left=left, op=op, right=right) if type(op) in OPERATORS:
                symbol, precedence = OPERATORS[type(op)]
                left, left_precedence = self.translate(left, names)
                right, right_precedence = self.translate(right, names)
                if left_precedence < precedence:
                    left = f"({left})"
                if right_precedence <= precedence:  # a - (b - c): keep the order
                    right = f"({right})"
                return f"{left} {symbol} {right}", precedence
            case ast.Call(func=ast.Name(id="round"), args=[argument], keywords=[]):
                return f"({self.expression(argument, names)}) | round | int", 0
            case ast.Call(func=ast.Name(id=name), args=arguments, keywords=[]) if (
                name in self.functions
            ):
                function = self.functions[name]
                parameters = [parameter.arg for parameter in function.args.args]
                if len(parameters) != len(arguments) or function.args.defaults:
                    self.refuse(node, f"call {name}() with its {len(parameters)} arguments")
                inner = {
                    parameter: self.translate(argument, names)
                    for parameter, argument in zip(parameters, arguments, strict=True)
                }
                return self.translate(self.body(function), inner)
        self.refuse(node, "a named value is a number, a threshold, a number constant, + - * /,"
                    " round() or a one-expression helper of them")  # fmt: skip


def checked(alert, names: set[str]) -> dict:
    """An alert's fields, after checking that its templates name only named values."""
    fields = dataclasses.asdict(alert)
    texts = [value for value in fields.values() if isinstance(value, str)]
    for value in fields.values():
        if isinstance(value, dict):
            texts += [*value, *value.values()]
    for text in texts:
        unknown = set(PLACEHOLDER.findall(text)) - names - {""}
        if unknown or "%" in PLACEHOLDER.sub("", text):
            raise SystemExit(
                f"{ALERTS.name}: {alert.name}: {text!r} names {', '.join(sorted(unknown))}"
                if unknown
                else f"{ALERTS.name}: {alert.name}: {text!r}: use %(name)d, %(name)g or %%"
            )
    return fields


def entry(key: str, value: object, indent: str) -> str:
    """One `key: value,` of a Jinja dict; a dict value one entry a line."""
    if not isinstance(value, dict) or not value:
        return f"{indent}{literal(key)}: {literal(value)},"
    inner = [entry(name, item, indent + "    ") for name, item in value.items()]
    return f"{indent}{literal(key)}: {{\n" + "\n".join(inner) + f"\n{indent}}},"


def alerts_literal(alerts: tuple, names: set[str], indent: str) -> str:
    """A list of alerts as a Jinja list literal, one field a line."""
    items = []
    for alert in alerts:
        lines = [entry(k, v, indent + "    ") for k, v in checked(alert, names).items()]
        items.append(f"{indent}{{\n" + "\n".join(lines) + f"\n{indent}}},")
    return "[\n" + "\n".join(items) + f"\n{indent[:-4]}]"


def block(module, source: str) -> str:
    """The generated Jinja: the documents' constants, `named_values` and the alerts."""
    translation = Translation(module, source)
    names = set(module.named_values(module.Thresholds()))
    if names != translation.fields | set(translation.values):
        raise SystemExit(f"{ALERTS.name}: named_values gives other names than it says")
    values = ",\n".join(
        f"    {literal(name)}: {value}" for name, value in translation.values.items()
    )
    tasks = ",\n".join(
        f"    {literal(task)}: {alerts_literal(alerts, names, '        ')}"
        for task, alerts in module.PREDICTION_ALERTS.items()
    )
    lines = [
        BEGIN,
        *(
            f"{{%- set {name} = {literal(getattr(module, name))} -%}}"
            for name in DOCUMENT_CONSTANTS
        ),
        "{#- named_values(t): the thresholds, and the values computed from them -#}",
        "{%- set named_values = dict(t) -%}",
        "{%- set _ = named_values.update({\n" + values + ",\n}) -%}",
        "{%- set service_alerts = " + alerts_literal(module.SERVICE_ALERTS, names, "    ") + " -%}",
        "{%- set prediction_alerts = {\n" + tasks + ",\n} -%}",
        END,
    ]
    return "\n".join(lines)


def written(text: str, module, source: str) -> str:
    """The include with its generated block replaced."""
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{INCLUDE.relative_to(ROOT)}: put the markers where the copy goes")
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[:start] + block(module, source) + text[end:]


if __name__ == "__main__":
    sys.exit(
        write_or_check(
            __doc__.splitlines()[0],
            INCLUDE,
            lambda text: written(text, load_alerts(), ALERTS.read_text()),
            ALERTS.name,
            COMMAND,
        )
    )
