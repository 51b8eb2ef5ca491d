# Template file (copier-mlops): `copier update` merges new versions into it.
"""The text of the files adopt writes: schema.py, features.py, params.yml, tolerances.

Each is written as the template writes it, so that ruff format leaves the written
`schema.py` as it is and the team's files carry the template's owner note.
"""

import json

import yaml

from .infer import Inferred
from .plan import Plan

# The owner note the template puts at the top of the team's files (copier-mlops'
# scripts/ownership.py); the files adopt writes carry it too.
TEAM_NOTE = "# Your file: `copier update` never changes it (copier-mlops ownership)."
LINE_LENGTH = 100
# Where the written schema.py sends a reviewer for the rules, relative to the package.
RULES = "core/adopt/infer.py"


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return repr(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, tuple):
        items = ", ".join(_literal(item) for item in value)
        return f"({items},)" if len(value) == 1 else f"({items})"
    return repr(value)


def _call(name: str, positional: list[str], keywords: dict, indent: int = 8) -> str:
    """A call as ruff format lays it out: on one line when it fits, else split."""
    parts = positional + [f"{key}={_literal(value)}" for key, value in keywords.items()]
    line = f"{' ' * indent}{name}({', '.join(parts)}),"
    if len(line) <= LINE_LENGTH:
        return line
    inner = " " * (indent + 4)
    hugged = f"{inner}{', '.join(parts)}"
    if len(hugged) <= LINE_LENGTH:
        return f"{' ' * indent}{name}(\n{hugged}\n{' ' * indent}),"
    lines = [f"{' ' * indent}{name}("]
    for key, value in [(None, p) for p in positional] + list(keywords.items()):
        text = value if key is None else f"{key}={_literal(value)}"
        if len(inner + text) + 1 > LINE_LENGTH and isinstance(value, tuple):
            lines.append(f"{inner}{key}=(")
            lines += [f"{inner}    {_literal(item)}," for item in value]
            lines.append(f"{inner}),")
        else:
            lines.append(f"{inner}{text},")
    lines.append(f"{' ' * indent}),")
    return "\n".join(lines)


def _declaration(item: Inferred) -> str:
    """One column's line of the contract, such as `Numeric("size", minimum=0.0, ...)`."""
    return _call(item.kind, [json.dumps(item.name)], item.arguments)


def _keyword_line(key: str, value: object) -> str:
    line = f"    {key}={_literal(value)},"
    if len(line) <= LINE_LENGTH or not isinstance(value, tuple):
        return line
    items = "\n".join(f"        {_literal(item)}," for item in value)
    return f"    {key}=(\n{items}\n    ),"


def render_schema(plan: Plan, source: str) -> str:
    kinds = sorted({item.kind for item in plan.inferred} | {"Contract"})
    header = [
        TEAM_NOTE,
        '"""The data contract: one place that declares every column of the dataset.',
        "",
        f"Written by `data adopt` from {source}: review every line (ranges, levels, which",
        "columns may be missing, `unseen` for a level the service has not seen), then",
        f"commit it. Ranges are the observed ones widened by a margin; see {RULES} for",
        "the rules. Everything that checks or encodes the data is derived from CONTRACT.",
        '"""',
        "",
        f"from .core.contract import {', '.join(kinds)}",
        "",
        "CONTRACT = Contract(",
        f"    id_column={_literal(plan.id_column)},",
        f"    target={_literal(plan.target)},",
        f"    task={_literal(plan.task)},",
    ]
    header += [_keyword_line(key, value) for key, value in plan.target_info.arguments.items()]
    if plan.duplicates:
        header.append('    duplicates="drop",')
    header.append("    columns=(")
    header += [_declaration(item) for item in plan.inferred]
    header += ["    ),", ")", ""]
    return "\n".join(header)


FEATURES = f'''{TEAM_NOTE}
"""Feature engineering: turns validated records into the model's inputs.

Written by `data adopt`: the declared columns pass through as the model takes them,
and each datetime column becomes its calendar parts (`CONTRACT.model_inputs`). Add
row-wise derivations (ratios, differences) with narwhals expressions, so every data
engine computes the same features, then record the baseline with `make golden-update`.
Imputation and encoding are steps of the saved model pipeline, not done here.
"""

from collections.abc import Sequence

from narwhals.typing import IntoFrameT

from .schema import CONTRACT


def build_features(frame: IntoFrameT, keep: Sequence[str] = ()) -> IntoFrameT:
    """Model inputs: the declared columns; `keep` columns pass through unchanged in front."""
    return CONTRACT.model_inputs(frame, keep)
'''


def render_tolerances(task: str) -> str:
    """tests/golden/tolerances.yml for the task, as the template writes it."""
    lines = [
        TEAM_NOTE,
        "# How far a retrained model may move from the golden baseline before the golden",
        "# check fails. Same data, code and parameters on the same library versions give",
        "# identical numbers; these bounds only absorb floating-point noise between CPUs.",
        "metrics:",
    ]
    if task == "regression":
        lines += [
            "  # Largest absolute change of any metric (rmse, mae, r2).",
            "  absolute: 1.0e-6",
            "predictions:",
            "  # Largest absolute change of the predicted value of any golden record, in the",
            "  # target's unit: raise it for a target measured in large numbers.",
            "  value_absolute: 1.0e-6",
        ]
    else:
        lines += [
            "  # Largest absolute change of any metric (accuracy, f1_macro, log_loss; roc_auc "
            "for two",
            "  # classes).",
            "  absolute: 1.0e-6",
            "predictions:",
            "  # Largest absolute change of any class probability of any golden record.",
            "  probability_absolute: 1.0e-6",
            "  # How many golden records may change their predicted class.",
            "  label_changes: 0",
        ]
    return "\n".join(lines) + "\n"


def render_params(current: str, model_defaults: dict) -> str:
    """params.yml with its `model:` section set to ModelParams' defaults (the rest kept)."""
    section = yaml.safe_dump(
        {"model": model_defaults}, sort_keys=False, default_flow_style=None
    ).rstrip("\n")
    lines = current.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("model:")), None)
    if start is None:
        return current.rstrip("\n") + "\n" + section + "\n"
    end = start + 1
    while end < len(lines) and (lines[end].startswith((" ", "\t")) or not lines[end].strip()):
        end += 1
    return "\n".join([*lines[:start], section, *lines[end:]]) + "\n"


def render_golden(plan: Plan) -> str:
    return plan.golden.to_csv(index=False, lineterminator="\n")
