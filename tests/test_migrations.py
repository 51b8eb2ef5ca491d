"""The `_migrations` scripts in hooks/, run as Copier runs them: the template's Python, in
the project's root, with the stage and the answers file. Real git, no copier (the update
tier in test_update.py runs them through a real `copier update --trust`)."""

import ast
import hashlib
import importlib
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jinja2
import pytest
import yaml

from tests.helpers import ROOT, git_commit_all, run

HOOKS = ROOT / "hooks"
HOOK = HOOKS / "migrate_0_2_0_pipeline.py"
V0_1_0 = "c4e5207"
PIPELINE = Path("src/churn/pipeline.py")
BACKUP = Path("src/churn/pipeline.py.before-v0.2.0")


def load_hook(script: Path):
    """A migration script as a module; it imports hooks/migration.py as Copier's run does."""
    if str(HOOKS) not in sys.path:
        sys.path.insert(0, str(HOOKS))
    spec = importlib.util.spec_from_file_location(script.stem, script)
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    return hook


def v0_1_0_pipeline() -> str:
    """pipeline.py as copier-mlops 0.1.0 generated it, from this repository's history."""
    completed = subprocess.run(
        ["git", "show", f"{V0_1_0}:template/src/{{{{ package_name }}}}/pipeline.py"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if completed.returncode != 0:
        pytest.skip(f"commit {V0_1_0} (release 0.1.0) is not in this clone's history")
    return completed.stdout


def migrate(project: Path, stage: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(HOOK), stage, ".copier-answers.yml"],
        cwd=project, capture_output=True, text=True, check=False,
    )  # fmt: skip


def status(project: Path) -> list[str]:
    return run("git", "status", "--porcelain", cwd=project).stdout.splitlines()


@pytest.fixture
def project(tmp_path) -> Path:
    """A project at 0.1.0 as committed by a team: answers file and the generated pipeline."""
    (tmp_path / ".copier-answers.yml").write_text(
        yaml.safe_dump({"_commit": "v0.1.0", "package_name": "churn"})
    )
    (tmp_path / PIPELINE).parent.mkdir(parents=True)
    (tmp_path / PIPELINE).write_text(v0_1_0_pipeline())
    git_commit_all(tmp_path, "Generated from copier-mlops 0.1.0")
    return tmp_path


def update_writes_pipeline(project: Path, text: str) -> None:
    """What copier does between the two stages: the new release's pipeline.py is written."""
    (project / PIPELINE).write_text(text)


def test_the_recorded_hash_is_the_0_1_0_pipeline():
    hook = load_hook(HOOK)
    assert hashlib.sha256(v0_1_0_pipeline().encode()).hexdigest() == hook.V0_1_0_SHA256


def test_unchanged_pipeline_is_replaced_without_a_trace(project):
    before = migrate(project, "before")
    assert before.returncode == 0, before.stderr
    assert "unchanged since 0.1.0" in before.stdout
    assert not (project / PIPELINE).exists()

    update_writes_pipeline(project, '"""The 0.2.0 pipeline."""\n')
    after = migrate(project, "after")
    assert after.returncode == 0, after.stderr
    assert status(project) == [f" M {PIPELINE}"]
    assert not (project / BACKUP).exists()
    assert "now owned by the template" in after.stdout


def test_changed_pipeline_is_kept_beside_the_new_one_with_steps(project):
    changed = (project / PIPELINE).read_text() + "\n\nTEAM_CONSTANT = 42\n"
    (project / PIPELINE).write_text(changed)
    git_commit_all(project, "Team edit to the pipeline")

    before = migrate(project, "before")
    assert before.returncode == 0, before.stderr
    assert f"kept as {BACKUP}" in before.stdout
    assert (project / BACKUP).read_text() == changed

    update_writes_pipeline(project, '"""The 0.2.0 pipeline."""\n')
    after = migrate(project, "after")
    assert after.returncode == 0, after.stderr
    assert sorted(status(project)) == [f" M {PIPELINE}", f"A  {BACKUP}"]
    for step in (f"git diff --no-index {BACKUP} {PIPELINE}", f"git rm -f {BACKUP}",
                 "make golden-update"):  # fmt: skip
        assert step in after.stdout


def test_windows_line_endings_count_as_unchanged(project):
    (project / PIPELINE).write_bytes(v0_1_0_pipeline().replace("\n", "\r\n").encode())
    git_commit_all(project, "Checked out on Windows")
    assert "unchanged since 0.1.0" in migrate(project, "before").stdout
    assert not (project / PIPELINE).exists()


@pytest.mark.parametrize("edited", [False, True], ids=["unchanged", "changed"])
def test_running_a_stage_twice_changes_nothing_more(project, edited):
    if edited:
        (project / PIPELINE).write_text("TEAM_PIPELINE = True\n")
        git_commit_all(project, "Team pipeline")
    assert migrate(project, "before").returncode == 0
    state = status(project)
    again = migrate(project, "before")
    assert again.returncode == 0, again.stderr
    assert "nothing to migrate" in again.stdout
    assert status(project) == state

    update_writes_pipeline(project, '"""The 0.2.0 pipeline."""\n')
    assert migrate(project, "after").returncode == 0
    state = status(project)
    assert migrate(project, "after").returncode == 0
    assert status(project) == state


def test_a_different_leftover_copy_is_never_overwritten(project):
    (project / PIPELINE).write_text("TEAM_PIPELINE = 2\n")
    (project / BACKUP).write_text("TEAM_PIPELINE = 1\n")
    git_commit_all(project, "An old copy is still around")
    result = migrate(project, "before")
    assert result.returncode == 1
    assert f"{BACKUP} already exists and differs from {PIPELINE}" in result.stderr
    assert (project / BACKUP).read_text() == "TEAM_PIPELINE = 1\n"
    assert (project / PIPELINE).read_text() == "TEAM_PIPELINE = 2\n"


def test_project_without_a_pipeline_is_left_alone(project):
    run("git", "rm", "--quiet", str(PIPELINE), cwd=project)
    git_commit_all(project, "We replaced the pipeline with our own module")
    for stage in ("before", "after"):
        result = migrate(project, stage)
        assert result.returncode == 0, result.stderr
    assert status(project) == []


@pytest.mark.parametrize(
    ("recorded", "message"),
    [
        (None, ".copier-answers.yml is missing"),
        ({"_commit": "v0.1.0"}, "records no valid package_name (found None)"),
    ],
    ids=["no-answers-file", "no-package-name"],
)
def test_unusable_answers_are_reported_by_name(project, recorded, message):
    if recorded is None:
        (project / ".copier-answers.yml").unlink()
    else:
        (project / ".copier-answers.yml").write_text(yaml.safe_dump(recorded))
    result = migrate(project, "before")
    assert result.returncode == 1
    assert message in result.stderr
    assert (project / PIPELINE).is_file()


def test_wrong_arguments_print_the_usage(project):
    result = migrate(project, "during")
    assert result.returncode == 2
    assert "usage: migrate_0_2_0_pipeline.py before|after ANSWERS_FILE" in result.stderr


# --- 0.3.0: the data contract, and ModelParams in model.py ------------------------------

HOOK_0_3_0 = HOOKS / "migrate_0_3_0_contract.py"
V0_2_0 = "7a28afc"
SOURCE = "template/src/{{ package_name }}"
# One answer set per model.py that 0.2.0 generated.
MODELS = {
    "small": {"framework": "sklearn", "data_size": "small"},
    "sgd": {"framework": "sklearn", "data_size": "medium"},
    "torch": {"framework": "pytorch", "data_size": "large"},
}
TEAM_FILES = ("schema.py", "features.py", "model.py")
RUFF_RULES = "B,C4,E,F,I,N,PT,RUF,SIM,UP,W"  # the generated project's selection
TEAM_FEATURE = """

def ash_per_alcohol(ash, alcohol):
    return ash / alcohol
"""


def released(commit: str, name: str, answers: dict) -> str:
    """src/<package>/<name> as the release at `commit` generated it for `answers`."""
    for path in (f"{SOURCE}/{name}", f"{SOURCE}/{name}.jinja"):
        completed = subprocess.run(["git", "show", f"{commit}:{path}"], cwd=ROOT,
                                   capture_output=True, text=True, check=False)  # fmt: skip
        if completed.returncode == 0:
            break
    else:
        pytest.skip(f"commit {commit} (a release) is not in this clone's history")
    if not path.endswith(".jinja"):
        return completed.stdout
    environment = jinja2.Environment(keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    return environment.from_string(completed.stdout).render(package_name="churn", **answers)


def migrate_0_3_0(project: Path, stage: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(HOOK_0_3_0), stage, ".copier-answers.yml", str(ROOT)],
        cwd=project, capture_output=True, text=True, check=False,
    )  # fmt: skip


def current(name: str, answers: dict) -> str:
    """What this release generates for src/<package>/<name> (rendered as the hook does)."""
    answers = {"package_name": "churn", "task": "classification", **answers}
    return load_hook(HOOK_0_3_0).render(ROOT, name, answers)


def at_0_2_0(tmp_path: Path, model: str = "small") -> Path:
    """A project at 0.2.0 as committed by a team: answers file and the three team files."""
    answers = MODELS[model]
    (tmp_path / ".copier-answers.yml").write_text(
        yaml.safe_dump({"_commit": "v0.2.0", "package_name": "churn", **answers})
    )
    package = tmp_path / "src" / "churn"
    package.mkdir(parents=True)
    for name in TEAM_FILES:
        (package / name).write_text(released(V0_2_0, name, answers))
    git_commit_all(tmp_path, "Generated from copier-mlops 0.2.0")
    return tmp_path


def classes(text: str) -> dict[str, str]:
    """The source of each top-level class of a module, by name, without its docstring."""
    tree = ast.parse(text)
    return {node.name: re.sub(r'\n    """[^\n]*"""\n', "\n", ast.get_source_segment(text, node))
            for node in tree.body if isinstance(node, ast.ClassDef)}  # fmt: skip


def package_files(project: Path) -> dict[str, str]:
    package = project / "src" / "churn"
    return {path.name: path.read_text() for path in sorted(package.iterdir())}


def ruff_clean(project: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--isolated", "--line-length",
         "100", "--select", RUFF_RULES, "src"],
        cwd=project, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def import_contract(project: Path):
    """CONTRACT of a migrated project's schema.py, imported beside this release's contract.py
    (in core/), after the 0.4.0 migration that follows in the chain rewrote its imports."""
    package = project / "src" / "churn"
    schema = (package / "schema.py").read_text()
    (package / "schema.py").write_text(load_hook(HOOK_0_4_0).rewrite_imports(schema, "churn", []))
    (package / "core").mkdir()
    (package / "core" / "contract.py").write_text((ROOT / SOURCE / "core/contract.py").read_text())
    (package / "core" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    sys.path.insert(0, str(project / "src"))
    try:
        return importlib.import_module("churn.schema").CONTRACT
    finally:
        sys.path.remove(str(project / "src"))
        for name in [name for name in sys.modules if name.split(".")[0] == "churn"]:
            del sys.modules[name]
        shutil.rmtree(package / "core")
        (package / "__init__.py").unlink()
        (package / "schema.py").write_text(schema)


@pytest.mark.parametrize("commit", [V0_1_0, V0_2_0], ids=["0.1.0", "0.2.0"])
@pytest.mark.parametrize("model", MODELS)
def test_the_recorded_hashes_are_the_earlier_releases_team_files(commit, model):
    known = load_hook(HOOK_0_3_0).KNOWN_RENDERS
    for name in TEAM_FILES:
        text = released(commit, name, MODELS[model])
        assert hashlib.sha256(text.encode()).hexdigest() in known[name], (commit, name)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_the_hook_renders_what_copier_generates(tmp_path, task):
    from tests.helpers import generate

    for model, answers in (("small", MODELS["small"]), ("sgd", MODELS["sgd"])):
        project = generate(tmp_path / f"{task}-{model}", task=task, **answers)
        for name in TEAM_FILES:
            rendered = load_hook(HOOK_0_3_0).render(ROOT, name, {"package_name": "wine_quality",
                                                       "task": task, **answers})  # fmt: skip
            assert rendered == (project / "src/wine_quality" / name).read_text(), (model, name)


@pytest.mark.parametrize("model", MODELS)
def test_unchanged_team_files_are_replaced_by_this_release(tmp_path, model):
    project = at_0_2_0(tmp_path, model)
    before = migrate_0_3_0(project, "before")
    assert before.returncode == 0, before.stderr
    assert "src/churn/schema.py, src/churn/features.py, src/churn/model.py" in before.stdout
    assert status(project) == []  # `before` only checks

    after = migrate_0_3_0(project, "after")
    assert after.returncode == 0, after.stderr
    assert package_files(project) == {name: current(name, MODELS[model]) for name in TEAM_FILES}
    assert "unchanged since 0.2.0, replaced by the 0.3.0 version" in after.stdout
    assert "to finish" not in after.stdout


def test_unchanged_0_1_0_files_are_replaced_too(tmp_path):
    """An update from 0.1.0 runs the 0.2.0 and 0.3.0 migrations in a row."""
    project = at_0_2_0(tmp_path)
    for name in TEAM_FILES:
        (project / "src/churn" / name).write_text(released(V0_1_0, name, MODELS["small"]))
    git_commit_all(project, "Team files as 0.1.0 generated them")
    after = migrate_0_3_0(project, "after")
    assert after.returncode == 0, after.stderr
    assert "features.py: unchanged since 0.1.0" in after.stdout
    assert package_files(project) == {name: current(name, MODELS["small"]) for name in TEAM_FILES}


def test_windows_line_endings_count_as_unchanged_0_2_0_files(tmp_path):
    project = at_0_2_0(tmp_path)
    for path in (project / "src/churn").iterdir():
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    after = migrate_0_3_0(project, "after")
    assert after.stdout.count("unchanged since") == 3, after.stdout


@pytest.mark.parametrize("model", MODELS)
def test_changed_team_files_are_kept_working_with_the_new_version_beside(tmp_path, model):
    project = at_0_2_0(tmp_path, model)
    package = project / "src" / "churn"
    edited = {}
    for name, extra in (("schema.py", '\nDATA_OWNER = "cellar team"\n'),
                        ("features.py", TEAM_FEATURE),
                        ("model.py", '\nMODEL_CARD = "our classifier"\n')):  # fmt: skip
        edited[name] = (package / name).read_text() + extra
        (package / name).write_text(edited[name])
    git_commit_all(project, "Team edits")

    assert migrate_0_3_0(project, "before").returncode == 0
    after = migrate_0_3_0(project, "after")
    assert after.returncode == 0, after.stderr
    files = package_files(project)
    for name in TEAM_FILES:
        assert files[f"{name}.v0.3.0"] == current(name, MODELS[model])
        assert f"{name}: changed by the team, kept" in after.stdout
        assert f"git diff --no-index src/churn/{name}.v0.3.0 src/churn/{name}" in after.stdout
        assert f"Then delete src/churn/{name}.v0.3.0." in after.stdout
    assert "make golden-update" in after.stdout
    ruff_clean(project)

    # Each kept file still holds every line the team wrote, and now works with 0.3.0.
    assert files["schema.py"].startswith(edited["schema.py"].split("\nimport pandera")[0])
    assert 'DATA_OWNER = "cellar team"' in files["schema.py"]
    contract = import_contract(project)
    shipped = current("schema.py", MODELS[model])
    assert contract.task == "classification"
    assert contract.id_column == "sample_id"
    assert contract.classes == ("class_0", "class_1", "class_2")
    assert [column.name for column in contract.columns] == re.findall(r'Numeric\("(\w+)"', shipped)
    assert contract.min_training_rows == 50
    assert files["features.py"].endswith(TEAM_FEATURE)
    assert "FEATURE_NAMES" not in files["features.py"]
    assert "CONTRACT.model_inputs(frame, keep)" in files["features.py"]
    assert files["model.py"].startswith(edited["model.py"].split('"""\n', 2)[0])
    assert 'MODEL_CARD = "our classifier"' in files["model.py"]
    assert "class ModelParams(BaseModel):" in files["model.py"]
    config = released(V0_2_0, "config.py", {**MODELS[model], "experiment_tracking": "mlflow"})
    declared = {name: text for name, text in classes(config).items() if name.endswith("Params")}
    assert declared
    assert {name: classes(files["model.py"])[name] for name in declared} == declared


def test_features_the_hook_cannot_convert_are_kept_with_steps(tmp_path):
    project = at_0_2_0(tmp_path)
    features = project / "src/churn/features.py"
    ours = "from .schema import FEATURE_NAMES\n\nOURS = list(FEATURE_NAMES)\n"
    features.write_text(ours)
    git_commit_all(project, "Our own features module")
    after = migrate_0_3_0(project, "after")
    assert after.returncode == 0, after.stderr
    assert features.read_text() == ours
    assert "src/churn/features.py still imports FEATURE_NAMES from schema.py" in after.stdout
    assert "CONTRACT.model_inputs(frame, keep)" in after.stdout


def test_a_task_change_in_the_same_update_says_to_adopt_the_data_again(tmp_path):
    project = at_0_2_0(tmp_path)
    (project / "src/churn/schema.py").write_text(
        (project / "src/churn/schema.py").read_text() + "\n# ours\n"
    )
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    (project / ".copier-answers.yml").write_text(yaml.safe_dump({**answers, "task": "regression"}))
    after = migrate_0_3_0(project, "after")
    assert after.returncode == 0, after.stderr
    files = package_files(project)
    regression = {**MODELS["small"], "task": "regression"}
    assert files["schema.py.v0.3.0"] == current("schema.py", regression)
    assert files["model.py"] == current("model.py", regression)  # unchanged: replaced
    assert "task is now regression" in after.stdout
    assert "churn data adopt FILE --target COLUMN --force" in after.stdout


@pytest.mark.parametrize("edited", [False, True], ids=["unchanged", "changed"])
def test_running_the_0_3_0_migration_twice_changes_nothing_more(tmp_path, edited):
    project = at_0_2_0(tmp_path)
    if edited:
        for path in (project / "src/churn").iterdir():
            path.write_text(path.read_text() + "\n# ours\n")
        git_commit_all(project, "Team edits")
    assert migrate_0_3_0(project, "after").returncode == 0
    state = package_files(project)
    for stage in STAGES_0_3_0:
        again = migrate_0_3_0(project, stage)
        assert again.returncode == 0, again.stderr
        assert package_files(project) == state
    assert again.stdout.count("already in the 0.3.0 form, nothing to migrate") == 3


STAGES_0_3_0 = ("before", "after")


def test_a_different_leftover_new_version_is_never_overwritten(tmp_path):
    project = at_0_2_0(tmp_path)
    schema = project / "src/churn/schema.py"
    schema.write_text(schema.read_text() + "\n# ours\n")
    leftover = project / "src/churn/schema.py.v0.3.0"
    leftover.write_text("# half carried over\n")
    git_commit_all(project, "An old copy is still around")
    state = package_files(project)
    for stage in STAGES_0_3_0:
        result = migrate_0_3_0(project, stage)
        assert result.returncode == 1
        assert "src/churn/schema.py.v0.3.0 already exists and differs" in result.stderr
        assert package_files(project) == state


def test_a_schema_without_the_0_2_0_names_is_refused_with_what_to_do(tmp_path):
    project = at_0_2_0(tmp_path)
    (project / "src/churn/schema.py").write_text('ID_COLUMN = "id"\nTARGET = "label"\n')
    git_commit_all(project, "Our own schema")
    state = package_files(project)
    result = migrate_0_3_0(project, "after")
    assert result.returncode == 1
    assert "src/churn/schema.py no longer defines CLASSES, FEATURES" in result.stderr
    assert "CONTRACT = Contract(...)" in result.stderr
    assert package_files(project) == state


@pytest.mark.parametrize(
    ("recorded", "message"),
    [
        (None, ".copier-answers.yml is missing"),
        ({"_commit": "v0.2.0", "framework": "sklearn", "data_size": "small"},
         "records no valid package_name (found None)"),
        ({"_commit": "v0.2.0", "package_name": "churn", "data_size": "small"},
         "records no framework (found None)"),
    ],
    ids=["no-answers-file", "no-package-name", "no-framework"],
)  # fmt: skip
def test_unusable_answers_stop_the_0_3_0_migration_by_name(tmp_path, recorded, message):
    project = at_0_2_0(tmp_path)
    if recorded is None:
        (project / ".copier-answers.yml").unlink()
    else:
        (project / ".copier-answers.yml").write_text(yaml.safe_dump(recorded))
    state = package_files(project)
    result = migrate_0_3_0(project, "before")
    assert result.returncode == 1
    assert message in result.stderr
    assert package_files(project) == state


def test_the_0_3_0_migration_prints_its_usage(tmp_path):
    result = migrate_0_3_0(tmp_path, "during")
    assert result.returncode == 2
    usage = "usage: migrate_0_3_0_contract.py before|after ANSWERS_FILE TEMPLATE_DIR"
    assert usage in result.stderr


# --- 0.4.0: code moves, and the fingerprint hashes definitions ---------------------------

HOOK_0_4_0 = HOOKS / "migrate_0_4_0_layout.py"
FINGERPRINT = Path("tests/golden/baseline/fingerprint.json")
MODEL_SOURCES = {
    "schema.py": 'CONTRACT = {"target": "label"}\n',
    "model.py": '"""The model."""\n\nimport math\n\n\ndef build_model(p):\n    return math.e\n',
    "pipeline.py": "from .model import build_model\n\n\ndef train(f):\n    return build_model(1)\n",
}


def migrate_0_4_0(project: Path, *arguments: str) -> subprocess.CompletedProcess:
    arguments = arguments or ("before", ".copier-answers.yml", str(ROOT))
    return subprocess.run([sys.executable, str(HOOK_0_4_0), *arguments], cwd=project,
                          capture_output=True, text=True, check=False)  # fmt: skip


def at_0_3_0(tmp_path: Path, code_hashing: str | None = "syntax tree without docstrings") -> Path:
    """A project at 0.3.0 with model code and a baseline recorded from it."""
    (tmp_path / ".copier-answers.yml").write_text(yaml.safe_dump({"package_name": "churn"}))
    package = tmp_path / "src" / "churn"
    package.mkdir(parents=True)
    for name, source in MODEL_SOURCES.items():
        (package / name).write_text(source)
    hook = load_hook(HOOK_0_4_0)
    recorded = {
        "data": {"churn.csv": "1" * 64},
        "params": "2" * 64,
        "code": {name: hook.v0_3_0_digest(source) for name, source in MODEL_SOURCES.items()},
        "libraries": {"python": "3.11.7", "scikit-learn": "1.6.1"},
    }
    if code_hashing:
        recorded["code_hashing"] = code_hashing
    (tmp_path / FINGERPRINT).parent.mkdir(parents=True)
    (tmp_path / FINGERPRINT).write_text(json.dumps(recorded, indent=2) + "\n")
    git_commit_all(tmp_path, "Generated from copier-mlops 0.3.0")
    return tmp_path


def test_a_current_0_3_0_baseline_is_hashed_again_by_definition(tmp_path):
    from tests.test_fingerprint import code

    project = at_0_3_0(tmp_path)
    before = json.loads((project / FINGERPRINT).read_text())
    result = migrate_0_4_0(project)
    assert result.returncode == 0, result.stderr
    assert "is hashed again, by definition" in result.stdout
    after = json.loads((project / FINGERPRINT).read_text())
    assert after["code_hashing"] == code.HASHING
    # The update then moves the pipeline into core/; the code fingerprints the same.
    package = project / "src" / "churn"
    (package / "core").mkdir()
    (package / "pipeline.py").rename(package / "core" / "pipeline.py")
    assert after["code"] == code.code_digests(package)
    assert sorted(after["code"]) == ["CONTRACT", "build_model", "train"]
    assert {key: value for key, value in after.items() if key not in ("code", "code_hashing")} == {
        key: value for key, value in before.items() if key not in ("code", "code_hashing")
    }
    # The same code in other modules (a move) fingerprints to what the baseline now holds.
    moved = project / "src" / "churn"
    (moved / "core" / "pipeline.py").write_text("from ..model import build_model\n")
    (moved / "model.py").write_text(MODEL_SOURCES["model.py"] + MODEL_SOURCES["pipeline.py"])
    assert code.code_digests(moved) == after["code"]


def test_running_the_0_4_0_migration_twice_changes_nothing_more(tmp_path):
    project = at_0_3_0(tmp_path)
    assert migrate_0_4_0(project).returncode == 0
    migrated = (project / FINGERPRINT).read_bytes()
    again = migrate_0_4_0(project)
    assert again.returncode == 0
    assert "already hashed the 0.4.0 way" in again.stdout
    assert (project / FINGERPRINT).read_bytes() == migrated


@pytest.mark.parametrize(
    ("code_hashing", "change", "message"),
    [
        ("syntax tree without docstrings", "model.py",
         "does not match the code as it is (model.py changed since it was recorded)"),
        ("syntax tree without docstrings", "pipeline.py",
         "does not match the code as it is (pipeline.py changed since it was recorded)"),
        (None, None, "was recorded before 0.3.0 (it hashed the bytes of each file): left as it"),
    ],
    ids=["model-changed", "module-gone", "recorded-by-0.2.0"],
)  # fmt: skip
def test_a_baseline_the_code_no_longer_matches_is_left_as_it_is(
    tmp_path, code_hashing, change, message
):
    project = at_0_3_0(tmp_path, code_hashing)
    if change == "model.py":
        (project / "src/churn/model.py").write_text("def build_model(p):\n    return 0\n")
    elif change == "pipeline.py":
        (project / "src/churn/pipeline.py").unlink()
    recorded = (project / FINGERPRINT).read_bytes()
    result = migrate_0_4_0(project)
    assert result.returncode == 0, result.stderr
    assert message in result.stdout
    assert (project / FINGERPRINT).read_bytes() == recorded


def test_a_project_without_a_baseline_has_nothing_to_migrate(tmp_path):
    project = at_0_3_0(tmp_path)
    (project / FINGERPRINT).unlink()
    result = migrate_0_4_0(project)
    assert result.returncode == 0
    assert "no baseline, nothing to migrate" in result.stdout


def test_a_broken_baseline_stops_the_0_4_0_migration_and_is_kept(tmp_path):
    project = at_0_3_0(tmp_path)
    (project / FINGERPRINT).write_text('{"code": ')
    result = migrate_0_4_0(project)
    assert result.returncode == 1
    assert "fingerprint.json is not valid JSON" in result.stderr
    assert "restore it from git" in result.stderr
    assert (project / FINGERPRINT).read_text() == '{"code": '


def test_the_0_4_0_migration_prints_its_usage(tmp_path):
    result = migrate_0_4_0(tmp_path, "during", ".copier-answers.yml", str(ROOT))
    assert result.returncode == 2
    usage = "usage: migrate_0_4_0_layout.py before|after ANSWERS_FILE TEMPLATE_DIR"
    assert usage in result.stderr
    missing = migrate_0_4_0(tmp_path)
    assert missing.returncode == 1
    assert ".copier-answers.yml is missing" in missing.stderr


def test_the_score_neutral_changes_are_this_releases_and_nothing_more():
    """Each definition SCORE_NEUTRAL declares has its 0.3.0 digest in 0.3.0's code and its
    0.4.0 digest in this release's; of Contract, only `records_frame` and
    `_request_field` (service requests) changed, so training computes what it did."""
    from tests.test_fingerprint import code

    hook = load_hook(HOOK_0_4_0)
    old = released("4958ce0", "contract.py", {})
    new = (ROOT / SOURCE / "core/contract.py").read_text()
    assert set(hook.SCORE_NEUTRAL) == {"Contract", "_reference", "_resolve"}
    before, after = hook.SCORE_NEUTRAL["Contract"]
    assert code.definition_digests([old])["Contract"] == before
    assert code.definition_digests([new])["Contract"] == after
    # torch_model.py moved into core/: the saved network reference stays relative to the
    # project's package (".network:MLP"), as the shipped PyTorch baselines hold it.
    old_torch = released("4958ce0", "{% if framework == 'pytorch' %}torch_model.py{% endif %}", {})
    # 0.4.0 splits it into the estimators, their base class and the device helpers.
    new_torch = [(ROOT / SOURCE / f"core/{name}.py").read_text()
                 for name in ("torch_model", "torch_estimator", "torch_device")]  # fmt: skip
    old_digests = code.definition_digests([old_torch])
    new_digests = code.definition_digests(new_torch)
    changed = {name for name in old_digests.keys() | new_digests.keys()
               if old_digests.get(name) != new_digests.get(name)}  # fmt: skip
    assert changed == {"_reference", "_resolve"}
    for name in ("_reference", "_resolve"):
        assert hook.SCORE_NEUTRAL[name] == (old_digests[name], new_digests[name])

    def methods(source: str) -> dict[str, str]:
        contract = next(node for node in ast.parse(source).body
                        if isinstance(node, ast.ClassDef) and node.name == "Contract")  # fmt: skip
        return code.definition_digests([ast.unparse(node) for node in contract.body])

    changed = {name for name in methods(old).keys() | methods(new).keys()
               if methods(old).get(name) != methods(new).get(name)}  # fmt: skip
    assert changed == {"records_frame", "_request_field"}


# --- 0.4.0: the template's modules move into core/ ----------------------------------------

TEAM_SOURCES_0_3_0 = {
    "src/churn/schema.py": (
        "from .contract import Contract, Numeric\n\nCONTRACT = Contract(Numeric)\n"
    ),
    "src/churn/model.py": (
        "from pydantic import BaseModel\n\nfrom .network import MLP\n"
        "from .torch_model import TorchRegressor\n\nMODELS = (BaseModel, MLP, TorchRegressor)\n"
    ),
    "src/churn/team/report.py": (
        "from .. import config, golden\nfrom ..schema import CONTRACT\nfrom .plots import bar\n"
        "\nUSED = (config, golden, CONTRACT, bar)\n"
    ),
    "tests/test_ours.py": (
        "from unittest import mock\n\nfrom churn.features import ratio\n"
        "from churn.pipeline import run\n\n\ndef test_run():\n"
        '    with mock.patch("churn.serve.app"):\n        assert run and ratio\n'
    ),
}
TEAM_SOURCES_0_4_0 = {
    "src/churn/schema.py": (
        "from .core.contract import Contract, Numeric\n\nCONTRACT = Contract(Numeric)\n"
    ),
    "src/churn/model.py": (
        "from pydantic import BaseModel\n\nfrom .core.torch_model import TorchRegressor\n"
        "from .network import MLP\n\nMODELS = (BaseModel, MLP, TorchRegressor)\n"
    ),
    "src/churn/team/report.py": (
        "from ..core import config, golden\nfrom ..schema import CONTRACT\nfrom .plots import bar\n"
        "\nUSED = (config, golden, CONTRACT, bar)\n"
    ),
    "tests/test_ours.py": (
        "from unittest import mock\n\nfrom churn.core.pipeline import run\n"
        "from churn.features import ratio\n\n\ndef test_run():\n"
        '    with mock.patch("churn.core.serve.app"):\n        assert run and ratio\n'
    ),
}
# What the update itself wrote: template-owned, in core/, left exactly as it is.
CORE_SOURCE = (
    "from .contract import Contract\nfrom .log import logger\n\nUSED = (Contract, logger)\n"
)


def updated_to_0_4_0(tmp_path: Path) -> Path:
    """A 0.3.0 project's files just after the update wrote 0.4.0's core/ (before `after`)."""
    (tmp_path / ".copier-answers.yml").write_text(yaml.safe_dump({"package_name": "churn"}))
    for name, source in {**TEAM_SOURCES_0_3_0, "src/churn/core/pipeline.py": CORE_SOURCE}.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(source)
    git_commit_all(tmp_path, "Updated to 0.4.0")
    return tmp_path


def test_the_team_imports_of_the_moved_modules_are_rewritten(tmp_path):
    project = updated_to_0_4_0(tmp_path)
    result = migrate_0_4_0(project, "after", ".copier-answers.yml", str(ROOT))
    assert result.returncode == 0, result.stderr
    for name, source in TEAM_SOURCES_0_4_0.items():
        assert (project / name).read_text() == source, name
        assert f"  {name}" in result.stdout
    assert (project / "src/churn/core/pipeline.py").read_text() == CORE_SOURCE
    ruff_clean(project)
    again = migrate_0_4_0(project, "after", ".copier-answers.yml", str(ROOT))
    assert "no file of yours imports a module that moved into core/" in again.stdout
    assert {name: (project / name).read_text() for name in TEAM_SOURCES_0_4_0} == (
        TEAM_SOURCES_0_4_0
    )


def at_0_3_0_with_plumbing(tmp_path: Path) -> Path:
    """A 0.3.0 project whose template-owned log.py the team changed after the last update."""
    (tmp_path / ".copier-answers.yml").write_text(yaml.safe_dump({"package_name": "churn"}))
    package = tmp_path / "src" / "churn"
    (package / "monitoring").mkdir(parents=True)
    for name in ("log.py", "pipeline.py", "monitoring/drift.py", "features.py"):
        (package / name).write_text(f'"""{name} as 0.3.0 generated it."""\n')
    git_commit_all(tmp_path, "Generated from copier-mlops 0.3.0")
    (package / "log.py").write_text('"""log.py as 0.3.0 generated it."""\n\nTEAM = "json"\n')
    (package / "monitoring" / "drift.py").write_text('"""drift.py, ours now."""\n')
    git_commit_all(tmp_path, "Team edits")
    (package / "features.py").write_text("RATIO = 2\n")  # a team file: never moved
    return tmp_path


def test_a_moved_module_the_team_changed_is_kept_beside_its_new_version(tmp_path):
    project = at_0_3_0_with_plumbing(tmp_path)
    result = migrate_0_4_0(project)
    assert result.returncode == 0, result.stderr
    package = project / "src" / "churn"
    kept = sorted(path.relative_to(package).as_posix() for path in package.rglob("*.before-v*"))
    assert kept == ["core/log.py.before-v0.4.0", "core/monitoring/drift.py.before-v0.4.0"]
    assert (package / "core/log.py.before-v0.4.0").read_text().endswith('TEAM = "json"\n')
    assert "src/churn/log.py (changed by the team) is kept as" in result.stdout
    staged = run("git", "diff", "--cached", "--name-only", cwd=project).stdout.split()
    assert staged == ["src/churn/core/log.py.before-v0.4.0",
                      "src/churn/core/monitoring/drift.py.before-v0.4.0"]  # fmt: skip
    after = migrate_0_4_0(project, "after", ".copier-answers.yml", str(ROOT))
    assert after.returncode == 0, after.stderr
    diff = "git diff --no-index src/churn/core/log.py.before-v0.4.0 src/churn/core/log.py"
    assert diff in after.stdout


def test_a_project_whose_moved_modules_are_as_generated_keeps_no_copy(tmp_path):
    project = at_0_3_0_with_plumbing(tmp_path)
    git_commit_all(project, "Updated to 0.3.0 again")
    (project / ".copier-answers.yml").write_text(yaml.safe_dump({"package_name": "churn",
                                                                 "_commit": "v0.3.0"}))  # fmt: skip
    git_commit_all(project, "copier update")
    result = migrate_0_4_0(project)
    assert result.returncode == 0, result.stderr
    assert list(project.rglob("*.before-v*")) == []
