"""Write the thresholds' defaults and bounds into includes/monitoring/thresholds.jinja.

    python3 -m uv run scripts/thresholds_include.py [--check]

The generated project's `Thresholds` model (src/<package>/core/monitoring/thresholds.py) is
the one definition of every monitoring threshold: its default, whether it is a whole
number, its bounds and the task it belongs to. Copier cannot run that Python at copy
time (no `--trust`), so the Jinja include that renders thresholds.yml and checks a
preset's `thresholds` answer holds a copy, between the `generated:begin` and
`generated:end` markers, written by this script. `--check` writes nothing and exits 1
while the copy differs from the model.
"""

import importlib.util
import sys
from pathlib import Path

from annotated_types import Ge, Gt, Le, Lt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scripts.generated import ROOT, write_or_check

MODEL = ROOT / "template" / "src" / "{{ package_name }}" / "core" / "monitoring" / "thresholds.py"
INCLUDE = ROOT / "includes" / "monitoring" / "thresholds.jinja"
COMMAND = "python3 -m uv run scripts/thresholds_include.py"
BEGIN = "{#- generated:begin by scripts/thresholds_include.py from thresholds.py -#}"
END = "{#- generated:end -#}"


def load_model(path: Path = MODEL) -> type:
    """The `Thresholds` class of a thresholds.py (it needs only pydantic and PyYAML)."""
    spec = importlib.util.spec_from_file_location("template_thresholds", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Thresholds


def jinja(value: object) -> str:
    """A Python value as a Jinja literal."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(map(jinja, value)) + "]"
    return repr(value)


def bounds_of(name: str, field) -> list[object]:
    """[whole number?, lower bound, lower bound allowed?, upper bound (exclusive) or none]."""
    low = low_allowed = high = None
    for constraint in field.metadata:
        if isinstance(constraint, Ge):
            low, low_allowed = constraint.ge, True
        elif isinstance(constraint, Gt):
            low, low_allowed = constraint.gt, False
        elif isinstance(constraint, Lt):
            high = constraint.lt
        elif isinstance(constraint, Le):
            raise SystemExit(f"{name}: an inclusive upper bound (le) has no Jinja check; use lt")
    if low is None:
        raise SystemExit(f"{name}: every threshold needs a lower bound (ge or gt)")
    if field.annotation not in (int, float):
        raise SystemExit(f"{name}: a threshold is an int or a float, not {field.annotation}")
    return [field.annotation is int, low, low_allowed, high]


def block(model: type) -> str:
    """The generated Jinja: `defaults`, `bounds` and each task's own thresholds."""
    fields = model.model_fields
    defaults = ",\n".join(f'    "{name}": {jinja(field.default)}' for name, field in fields.items())
    bounds = ",\n".join(
        f'    "{name}": [{", ".join(map(jinja, bounds_of(name, field)))}]'
        for name, field in fields.items()
    )
    lines = [
        BEGIN,
        "{%- set defaults = {\n" + defaults + ",\n} -%}",
        "{#- name: [whole number?, lower bound, lower bound allowed?, upper bound (exclusive)"
        " or none] -#}",
        "{%- set bounds = {\n" + bounds + ",\n} -%}",
    ]
    for task in ("classification", "regression"):
        names = [
            name
            for name, field in fields.items()
            if (field.json_schema_extra or {}).get("task") == task
        ]
        lines.append(f"{{%- set {task}_only = {jinja(names)} -%}}")
    return "\n".join([*lines, END])


def written(text: str, model: type) -> str:
    """The include with its generated block replaced."""
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{INCLUDE.relative_to(ROOT)}: put the markers where the copy goes")
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[:start] + block(model) + text[end:]


if __name__ == "__main__":
    sys.exit(
        write_or_check(
            __doc__.splitlines()[0],
            INCLUDE,
            lambda text: written(text, load_model()),
            MODEL.name,
            COMMAND,
        )
    )
