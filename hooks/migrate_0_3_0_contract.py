"""Migration to copier-mlops 0.3.0: the data contract (`CONTRACT`) and `ModelParams` in model.py.

From 0.3.0 the template-owned code reads the dataset from one declaration,
`CONTRACT = Contract(...)` in `schema.py` (built from the template-owned `contract.py`),
`features.py` starts from `CONTRACT.model_inputs(frame, keep)`, and `ModelParams` lives in
`model.py` (config.py imports it from there). Those three files are the team's, so
`copier update` never writes them; Copier runs this script from `_migrations` in
copier.yml, in the project's root, when an update crosses 0.3.0:

    python migrate_0_3_0_contract.py before ANSWERS_FILE TEMPLATE_DIR
    python migrate_0_3_0_contract.py after ANSWERS_FILE TEMPLATE_DIR

`before` (ahead of the merge) only checks, so that an update it refuses changes nothing:
usable answers, and no leftover `<file>.v0.3.0` that differs from what it would write.
`after` migrates each of schema.py, features.py and model.py still in the 0.2.0 form:
- exactly as copier-mlops 0.1.0 or 0.2.0 generated it: replaced by the 0.3.0 version,
  rendered from TEMPLATE_DIR for the project's answers;
- changed by the team: kept, made to work with 0.3.0, and the 0.3.0 version written
  beside it as `<file>.v0.3.0`, with the steps to finish printed. schema.py gets a
  `CONTRACT` built from its own ID_COLUMN, TARGET, CLASSES and FEATURES; features.py has
  its selection of FEATURE_NAMES turned into `CONTRACT.model_inputs(frame, keep)` (where
  it still reads as 0.2.0 wrote it); model.py gets the `ModelParams` that 0.2.0's
  config.py declared for the project's model, after its imports.
A file already in the 0.3.0 form is left alone, so a second run changes nothing.
"""

import ast
import hashlib
import sys
from pathlib import Path

import jinja2
import yaml
from migration import MigrationError, read_answers, run

VERSION = "0.3.0"
NEW_SUFFIX = f".v{VERSION}"
FILES = ("schema.py", "features.py", "model.py")

# sha256 (line endings read as Unix ones) of each file as earlier releases generated it:
# schema.py and features.py had no Jinja; model.py had one version per model (0.2.0:
# scikit-learn on small data, SGD on medium and large, PyTorch).
KNOWN_RENDERS = {
    "schema.py": {
        "092aed41fddf21fcbbfee6dc963bf57d5d1d4ee53094d162858702a6a911c7a2": "0.1.0 and 0.2.0",
    },
    "features.py": {
        "f411fb8197fdca20f82d6b767baeb5018daa2b66214b777fd159df64bb05eafe": "0.1.0",
        "5b97eb71fd05485ff1b569239ce26a2992ece50647894aa37971169d3cac55cd": "0.2.0",
    },
    "model.py": {
        "3d7614a34c5fddc6c67ab5bee28b06b2a5fade1035e917fa24920d384e6388f3": "0.1.0",
        "ccb1192b6ffa8c6c7e8bab7d7b9e88fafd02c36802298c567c60850247c3a1b5": "0.2.0 small",
        "d5b4aca0563f4979a6fa10d42bc603ba59005ddd0190aac77549f65b4f110d89": "0.2.0 sgd",
        "e87ef8428286e44660194db31d3df4ab10292cea568e8c80d8f00e3eb455a518": "0.2.0 torch",
    },
}
# What 0.2.0's schema.py exported and 0.3.0's does not (its one export is CONTRACT).
OLD_SCHEMA_NAMES = frozenset(
    {"ID_COLUMN", "TARGET", "CLASSES", "FEATURES", "FEATURE_NAMES", "Feature",
     "training_schema", "inference_schema", "MIN_TRAINING_ROWS", "MAX_BATCH_ROWS"}
)  # fmt: skip

# features.py as 0.2.0 wrote it -> as 0.3.0 writes it (the team's own lines stay).
FEATURES_REWRITES = (
    ("from .schema import FEATURE_NAMES\n", "from .schema import CONTRACT\n"),
    (
        "    measured = nw.from_native(frame).select(*keep, nw.col(*FEATURE_NAMES)"
        ".cast(nw.Float64))\n",
        "    measured = nw.from_native(CONTRACT.model_inputs(frame, keep))\n",
    ),
)

SCHEMA_IMPORT = "from .contract import Contract, Numeric"
# Contract fields that 0.2.0 kept as module constants in schema.py.
SCHEMA_LIMITS = {"min_training_rows": "MIN_TRAINING_ROWS", "max_batch_rows": "MAX_BATCH_ROWS"}
SCHEMA_CONTRACT = """

# copier-mlops 0.3.0 reads the dataset from CONTRACT alone (contract.py): the update's
# migration built it from the declarations above; schema.py.v0.3.0 shows the new form.
CONTRACT = Contract(
    id_column=ID_COLUMN,
    target=TARGET,
    task="classification",
    classes=tuple(CLASSES),
    columns=tuple(
        Numeric(feature.name, feature.description, feature.minimum, feature.maximum)
        for feature in FEATURES
    ),{limits}
)
"""

# The ModelParams that 0.2.0's config.py declared, per model (framework, data_size).
MODEL_PARAMS_HEADER = """

# Moved here from config.py by the copier-mlops 0.3.0 migration, as 0.2.0 declared them:
# config.py now reads the model's parameters from this file.
"""
MODEL_PARAMS = {
    "sklearn small": (
        ["from pydantic import BaseModel, ConfigDict, Field"],
        '''

class ModelParams(BaseModel):
    """Hyper-parameters of the model; unknown names are refused."""

    model_config = ConfigDict(extra="forbid")

    C: float = Field(1.0, gt=0, description="Inverse regularisation strength.")
    max_iter: int = Field(1000, ge=10, description="Iteration limit of the solver.")
''',
    ),
    "sklearn": (
        ["from pydantic import BaseModel, ConfigDict, Field"],
        '''

class ModelParams(BaseModel):
    """Hyper-parameters of the model; unknown names are refused."""

    model_config = ConfigDict(extra="forbid")

    alpha: float = Field(1e-4, gt=0, description="Regularisation strength of the SGD fit.")
''',
    ),
    "pytorch": (
        ["from typing import Annotated", "from pydantic import BaseModel, ConfigDict, Field"],
        '''

class NetworkParams(BaseModel):
    """Shape of the network (see network.py)."""

    model_config = ConfigDict(extra="forbid")

    hidden_sizes: list[Annotated[int, Field(ge=1)]] = Field(
        [32, 16], min_length=1, description="Width of each hidden layer, input side first."
    )
    dropout: float = Field(0.0, ge=0, lt=1, description="Dropout after each hidden layer.")


class ModelParams(BaseModel):
    """Hyper-parameters of the model; unknown names are refused."""

    model_config = ConfigDict(extra="forbid")

    network: NetworkParams = NetworkParams()
    epochs: int = Field(60, ge=1, description="Passes over the training data.")
    learning_rate: float = Field(0.01, gt=0, description="AdamW step size.")
    batch_size: int = Field(32, ge=1, description="Rows per optimisation step.")
    weight_decay: float = Field(0.001, ge=0, description="AdamW weight decay.")
''',
    ),
}


def model_variant(answers: dict) -> str:
    """Which of 0.2.0's model.py versions the answers gave (a key of MODEL_PARAMS)."""
    if answers["framework"] == "pytorch":
        return "pytorch"
    return "sklearn small" if answers["data_size"] == "small" else "sklearn"


def read_project_answers(answers_file: Path) -> dict:
    answers = read_answers(answers_file, "framework", "data_size")
    # Projects before 0.3.0 had no task question: they are all classification.
    answers.setdefault("task", "classification")
    return answers


def digest(text: str) -> str:
    """sha256 of a text, with Windows line endings read as Unix ones."""
    return hashlib.sha256(text.replace("\r\n", "\n").encode()).hexdigest()


def derived(template_dir: Path, answers: dict) -> dict:
    """The answers with the template's derived variables (`when: false` in copier.yml),
    such as the flag that chooses the one model.py of the answers."""
    questions = yaml.safe_load((template_dir / "copier.yml").read_text()) or {}
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined)
    values = dict(answers)
    for key, question in questions.items():
        if isinstance(question, dict) and question.get("when") is False:
            default = question.get("default")
            if isinstance(default, str) and question.get("type") == "bool":
                try:
                    values[key] = environment.from_string(default).render(**values) == "True"
                except jinja2.UndefinedError:
                    continue
    return values


def render(template_dir: Path, name: str, answers: dict) -> str:
    """The current version of src/<package>/<name> for these answers, as copier renders it:
    the file of the template's whose name renders to `name` (a variant's file name tests a
    derived flag, `{% if model_... %}model.py{% endif %}`)."""
    directory = template_dir / "template" / "src" / "{{ package_name }}"
    environment = jinja2.Environment(keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    values = derived(template_dir, answers)
    chosen = [
        source
        for source in sorted(directory.iterdir())
        if source.is_file()
        and environment.from_string(source.name).render(**values).removesuffix(".jinja") == name
    ]
    if len(chosen) != 1:
        raise MigrationError(f"the template at {template_dir} has no src/<package>/{name}")
    (source,) = chosen
    if source.suffix != ".jinja":
        return source.read_text()
    try:
        return environment.from_string(source.read_text()).render(**values)
    except jinja2.UndefinedError as error:
        raise MigrationError(f"cannot render {name} from the recorded answers: {error}") from None


def top_level_names(text: str) -> set[str]:
    """Names a module defines at its top level (assignments, functions, classes)."""
    names = set()
    for node in ast.parse(text).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def old_schema_imports(text: str) -> set[str]:
    """The names removed from schema.py in 0.3.0 that a module imports from it."""
    found = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ImportFrom) and node.module == "schema" and node.level == 1:
            found.update(alias.name for alias in node.names if alias.name in OLD_SCHEMA_NAMES)
    return found


def in_old_form(name: str, text: str) -> bool:
    try:
        if name == "schema.py":
            return "CONTRACT" not in top_level_names(text)
        if name == "features.py":
            return bool(old_schema_imports(text))
        return "ModelParams" not in top_level_names(text)
    except SyntaxError as error:
        raise MigrationError(
            f"{name} is not valid Python ({error.msg}, line {error.lineno}): fix it, commit, "
            "then update again"
        ) from None


def add_imports(text: str, imports: list[str]) -> str:
    """Add import lines to a module's leading import block, in the order ruff's isort
    keeps: standard library, third party, then the package's own modules, each sorted."""
    tree = ast.parse(text)
    body = list(tree.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    block = []
    for node in body:
        if not isinstance(node, (ast.Import, ast.ImportFrom)):
            break
        block.append(node)
    lines = text.splitlines(keepends=True)
    present = {ast.get_source_segment(text, node) for node in block}
    wanted = [line for line in imports if line not in present]
    if not wanted:
        return text
    if not block:
        # No imports yet: the new lines go after the docstring.
        start = tree.body[0].end_lineno if len(body) < len(tree.body) else 0
        head = "".join(lines[:start]) + ("\n" if start else "")
        return head + "\n".join(wanted) + "\n" + "".join(lines[start:])
    start, end = block[0].lineno - 1, block[-1].end_lineno
    between = [line for line in lines[start:end] if line.strip()]
    statements = [ast.get_source_segment(text, node) for node in block]
    if len(between) != sum(s.count("\n") + 1 for s in statements):
        # Comments inside the block: leave it as it is, the new lines go in front of it.
        return "".join(lines[:start]) + "\n".join(wanted) + "\n" + "".join(lines[start:])

    def section(statement: str) -> int:
        words = statement.split()
        module = words[1]
        if module.startswith("."):
            return 2
        return 0 if module.split(".")[0] in sys.stdlib_module_names else 1

    def order(statement: str) -> tuple:
        words = statement.split()
        return (words[0] == "from", words[1].lstrip(".").lower(), statement)

    sections: list[list[str]] = [[], [], []]
    for statement in statements + wanted:
        sections[section(statement)].append(statement)
    rendered = "\n\n".join("\n".join(sorted(group, key=order)) for group in sections if group)
    return "".join(lines[:start]) + rendered + "\n" + "".join(lines[end:])


class Plan:
    """What the migration does to one file, worked out before anything is written."""

    def __init__(self, package: Path, name: str, answers: dict, template_dir: Path) -> None:
        self.path = package / name
        self.name = name
        self.beside = self.path.with_name(name + NEW_SUFFIX)
        self.text = self.path.read_text() if self.path.is_file() else None
        self.todo = self.text is not None and in_old_form(name, self.text)
        self.new = render(template_dir, name, answers) if self.todo else None
        self.unchanged = self.todo and digest(self.text) in KNOWN_RENDERS[name]
        self.answers = answers
        leftover = self.beside.read_text() if self.beside.is_file() else self.new
        if self.todo and not self.unchanged and leftover != self.new:
            raise MigrationError(
                f"{self.beside} already exists and differs from the {VERSION} version the "
                "migration writes there: move it out of the way (or delete it once its "
                "changes are carried over), then update again"
            )

    def kept(self) -> str:
        """The team's file, made to work with 0.3.0."""
        if self.name == "schema.py":
            return self.kept_schema()
        if self.name == "features.py":
            text = self.text.replace("\r\n", "\n")
            for old, new in FEATURES_REWRITES:
                text = text.replace(old, new)
            tree = ast.parse(text)
            used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
            converted = not old_schema_imports(text) and not used & OLD_SCHEMA_NAMES
            return text if converted else self.text
        imports, classes = MODEL_PARAMS[model_variant(self.answers)]
        text = add_imports(self.text, imports)
        # The classes go after the imports, where 0.3.0's model.py declares them.
        tree = ast.parse(text)
        start = 1 if ast.get_docstring(tree) is not None else 0
        end = start
        while end < len(tree.body) and isinstance(tree.body[end], (ast.Import, ast.ImportFrom)):
            end += 1
        if end == len(tree.body):
            return text.rstrip("\n") + "\n" + MODEL_PARAMS_HEADER + classes.lstrip("\n")
        lines = text.splitlines(keepends=True)
        cut = tree.body[end - 1].end_lineno if end else 0
        rest = "".join(lines[cut:]).lstrip("\n")
        declared = MODEL_PARAMS_HEADER + classes.lstrip("\n")
        return "".join(lines[:cut]) + declared + "\n\n" + rest

    def kept_schema(self) -> str:
        defined = top_level_names(self.text)
        missing = sorted({"ID_COLUMN", "TARGET", "CLASSES", "FEATURES"} - defined)
        if missing:
            raise MigrationError(
                f"{self.path} no longer defines {', '.join(missing)}, so the migration cannot "
                f"build CONTRACT from it: declare `CONTRACT = Contract(...)` as in the "
                f"{VERSION} template (docs/your-data.md), commit, then update again"
            )
        limits = "".join(
            f"\n    {field}={constant},"
            for field, constant in SCHEMA_LIMITS.items()
            if constant in defined
        )
        text = add_imports(self.text, [SCHEMA_IMPORT])
        return text.rstrip("\n") + "\n" + SCHEMA_CONTRACT.format(limits=limits)

    def apply(self) -> list[str]:
        if self.text is None:
            return [f"{self.path}: not there, nothing to migrate"]
        if not self.todo:
            return [f"{self.path}: already in the {VERSION} form, nothing to migrate"]
        if self.unchanged:
            self.path.write_text(self.new)
            release = KNOWN_RENDERS[self.name][digest(self.text)].split()[0]
            return [f"{self.path}: unchanged since {release}, replaced by the {VERSION} version"]
        kept = self.kept()
        self.path.write_text(kept)
        self.beside.write_text(self.new)
        return [f"{self.path}: changed by the team, kept; the {VERSION} version is {self.beside}"]


def steps(plans: list[Plan], package_name: str, task: str) -> list[str]:
    """The manual steps for the files the team had changed."""
    kept = [plan for plan in plans if plan.todo and not plan.unchanged]
    if not kept:
        return []
    lines = ["", "Your changed files are kept and work with this release; to finish:"]
    number = 0
    for plan in kept:
        number += 1
        lines.append(f"  {number}. git diff --no-index {plan.beside} {plan.path}")
        if plan.name == "schema.py":
            lines += [
                "     CONTRACT at the end of schema.py was built from your FEATURES: write it",
                "     out as Numeric(...) entries as in the new version (or infer it from your",
                f"     data: `{package_name} data adopt FILE --target COLUMN --force`), then",
                "     delete ID_COLUMN, TARGET, CLASSES, FEATURES, Feature and the schema",
                "     functions once `git grep -n FEATURE_NAMES src tests` finds no user.",
            ]
        elif plan.name == "features.py" and old_schema_imports(plan.path.read_text()):
            lines += [
                f"     {plan.path} still imports "
                f"{', '.join(sorted(old_schema_imports(plan.path.read_text())))} from schema.py:",
                "     start from `CONTRACT.model_inputs(frame, keep)` as the new version",
                "     does (until then the project imports only while schema.py keeps them).",
            ]
        elif plan.name == "features.py":
            lines.append("     FEATURE_NAMES became CONTRACT.model_inputs(frame, keep).")
        else:
            lines.append(
                "     ModelParams (config.py declared it) now follows the imports of model.py."
            )
        lines.append(f"     Then delete {plan.beside}.")
    if task != "classification":
        number += 1
        lines += [
            f"  {number}. task is now {task}: bring data with a {task} target in with",
            f"     `{package_name} data adopt FILE --target COLUMN --force`.",
        ]
    lines.append(f"  {number + 1}. make golden-update (the code changed); make all; commit.")
    return lines


def migrate(stage: str, answers_file: Path, template_dir: Path) -> str:
    answers = read_project_answers(answers_file)
    package = Path("src") / answers["package_name"]
    plans = [Plan(package, name, answers, template_dir) for name in FILES]
    if stage == "before":
        todo = [str(plan.path) for plan in plans if plan.todo]
        return f"to migrate after the update: {', '.join(todo) or 'nothing'}"
    messages = [line for plan in plans for line in plan.apply()]
    return "\n".join(messages + steps(plans, answers["package_name"], answers["task"]))


if __name__ == "__main__":
    arguments = ("ANSWERS_FILE", "TEMPLATE_DIR")
    sys.exit(run(VERSION, Path(__file__).name, sys.argv[1:], migrate, *arguments))
