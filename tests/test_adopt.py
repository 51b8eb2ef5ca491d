"""`data adopt` brings a team's own data into a generated project, for either task.

Datasets scikit-learn ships (breast cancer: binary, iris: multiclass, diabetes:
regression; not wine, the shipped example) and a synthetic mixed-type file (categorical,
boolean, datetime and nullable columns, and a free-text column that adopt must refuse
until it is dropped), written by tests/datasets.py, adopted once for a classification
target and once for a regression one. Every dataset is adopted on the small engine and
passes the project's whole suite; the mixed-type regression is also adopted on the medium
and large engines and with PyTorch, where the tests that exercise the engine run (the rest
of the suite does not depend on it, and tests/test_engines.py runs the engines on the
shipped classification example). Each variant gets one generated project, shared by the
checks: its tests, golden check, the service, the alert rules and a scan of the
template-owned files for the example's names.
"""

import importlib.util
import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from copier import run_update

from scripts import ownership
from tests import torch_wheels
from tests.datasets import breast_cancer, diabetes, iris, mixed
from tests.helpers import (
    ENGINE_TESTS,
    TORCH_TESTS,
    call,
    conflicts,
    generate,
    git_commit_all,
    golden_record,
    metric_samples,
    require_tool,
    run,
    serving,
    set_up,
)

PROJECT = "Acme outcomes"
PACKAGE = "acme_outcomes"
# data adopt's code in a generated project.
ADOPT_PACKAGE = f"src/{PACKAGE}/core/adopt"

# The shipped example's names: none may appear in a template-owned file once a project
# has adopted other data.
EXAMPLE_NAMES = (
    "alcohol", "malic_acid", "alcalinity_of_ash", "magnesium", "total_phenols",
    "flavanoids", "nonflavanoid_phenols", "proanthocyanins", "color_intensity",
    "od280_od315", "proline", "cultivar", "class_0", "class_1", "class_2", "wine.csv",
)  # fmt: skip
# Files the team owns after adoption (written by adopt, golden update or the team).
TEAM_OWNED = (
    "README.md", "params.yml", "uv.lock", ".adopt.json", ".copier-answers.yml",
    "monitoring/thresholds.yml", "tests/golden/tolerances.yml",
    f"src/{PACKAGE}/schema.py", f"src/{PACKAGE}/features.py", f"src/{PACKAGE}/model.py",
    f"src/{PACKAGE}/network.py",
)  # fmt: skip
TEAM_OWNED_DIRS = ("data/golden/", "tests/golden/baseline/", ".git/", ".venv/", "models/",
                   "reports/")  # fmt: skip


# dataset: (writer, task, adopt arguments, a nullable column, a categorical column)
MIXED_ARGUMENTS = ["--id", "customer", "--drop", "comment"]
DATASETS = {
    "breast_cancer": (breast_cancer, "classification", ["--target", "diagnosis"], None, None),
    "iris": (iris, "classification", ["--target", "species"], None, None),
    "diabetes": (diabetes, "regression", ["--target", "progression"], None, "sex"),
    "mixed": (mixed, "classification", ["--target", "renewed", *MIXED_ARGUMENTS], "visits",
              "plan"),
    # The same mixed-type file with a numeric target (the other label column stays a feature).
    "spend": (mixed, "regression", ["--target", "spend", *MIXED_ARGUMENTS], "visits", "plan"),
}  # fmt: skip


# variant: (dataset, answers beyond the task). Every dataset on the small engine; the medium
# and large engines and PyTorch on the mixed-type regression.
VARIANTS = {
    **{name: (name, {}) for name in ("breast_cancer", "iris", "diabetes", "mixed")},
    "spend-medium": ("spend", {"data_size": "medium"}),
    "spend-large": ("spend", {"data_size": "large"}),
    "spend-pytorch": ("spend", {"framework": "pytorch", "experiment_tracking": "none"}),
}


def adopt_command(path: Path, arguments: list[str]) -> list[str]:
    return ["uv", "run", PACKAGE, "data", "adopt", str(path), *arguments]


# Each variant's checks run on one xdist worker (`--dist loadgroup`), in the order written,
# so its project is set up once and the update check comes last.
@pytest.fixture(
    scope="module",
    params=[
        pytest.param(name, marks=pytest.mark.xdist_group(f"adopt-{name}"))
        for name in sorted(VARIANTS)
    ],
)
def adopted(request, tmp_path_factory):
    """One generated project per variant, set up, adopted and committed."""
    name = request.param
    dataset, answers = VARIANTS[name]
    writer, task, arguments, nullable, categorical = DATASETS[dataset]
    workspace = tmp_path_factory.mktemp(f"adopt-{name}")
    extra_env = {}
    if answers.get("framework") == "pytorch":
        extra_env = torch_wheels.uv_config(workspace, torch_wheels.require_wheel())
    project = generate(workspace / "project", project_name=PROJECT, task=task, **answers)
    env = set_up(project, extra_env=extra_env)
    data = writer(workspace)
    if "--drop" in arguments:  # the free-text column is refused first, and nothing written
        index = arguments.index("--drop")
        refused = subprocess.run(
            adopt_command(data, arguments[:index] + arguments[index + 2 :]),
            cwd=project, env={**os.environ, **env}, capture_output=True, text=True,
        )  # fmt: skip
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert f"--drop {arguments[index + 1]}" in refused.stderr
        assert run("git", "status", "--porcelain", cwd=project).stdout == ""
    result = run(*adopt_command(data, arguments), cwd=project, env=env, timeout=600)
    assert "Inferred columns" in result.stdout
    git_commit_all(project, f"Adopt {data.name}")
    return name, project, env, nullable, categorical


@pytest.mark.slow
def test_adopted_project_passes_its_own_tests_and_golden_check(adopted):
    name, project, env, *_ = adopted
    run("make", "lint", cwd=project, env=env)
    answers = VARIANTS[name][1]
    if not answers:
        result = run("make", "test", cwd=project, env=env, timeout=1200)
    else:
        wanted = ENGINE_TESTS + (TORCH_TESTS if answers.get("framework") == "pytorch" else ())
        tests = [path for path in wanted if (project / path).exists()]  # small: no engine test
        result = run("uv", "run", "pytest", "-q", *tests, cwd=project, env=env, timeout=1200)
    assert " passed" in result.stdout
    assert "failed" not in result.stdout
    checked = run("uv", "run", PACKAGE, "golden", "check", cwd=project, env=env)
    assert "Golden check passed" in checked.stdout


@pytest.mark.slow
def test_adopted_project_serves_missing_values_and_unseen_levels(adopted):
    name, project, env, nullable, categorical = adopted
    task = DATASETS[VARIANTS[name][0]][1]
    record = golden_record(project, PACKAGE, env)
    with serving(project, PACKAGE, env) as service:
        status, body = call(f"{service.base}/predict", {"records": [record]})
        assert status == 200, body
        assert len(body["predictions"]) == 1
        if nullable:
            missing = {**record, nullable: None}
            status, body = call(f"{service.base}/predict", {"records": [missing]})
            assert status == 200, body
        if categorical:
            unseen = {**record, categorical: "never-seen-level"}
            status, body = call(f"{service.base}/predict", {"records": [unseen]})
            assert status == 422, body
            assert categorical in json.dumps(body["detail"])
        with urllib.request.urlopen(f"{service.base}/metrics", timeout=10) as response:
            exposition = response.read().decode()
    samples = metric_samples(project, env, exposition)

    def total(name: str, **labels: str) -> float:
        return sum(
            value
            for sample, pairs, value in samples
            if sample == name and labels.items() <= pairs.items()
        )

    # The per-task metrics count what was served; the monitoring counts the missing value.
    served = 1 + bool(nullable)
    assert total("predictions_total") == served
    histogram = (
        "prediction_confidence_count" if task == "classification" else "predicted_value_count"
    )
    assert total(histogram) == served
    if nullable:
        assert total("missing_values_total", field=nullable) >= 1
    if categorical:
        assert total("http_requests_total", route="/predict", status="422") == 1


@pytest.mark.slow
def test_adopted_project_alert_rules_are_current_and_pass_promtool(adopted):
    _, project, env, *_ = adopted
    promtool = require_tool("promtool")
    run("make", "monitoring-rules", cwd=project, env=env)
    assert run("git", "status", "--porcelain", cwd=project).stdout == "", (
        "adopt must leave the alert rules as `make monitoring-rules` writes them"
    )
    rules = project / "monitoring/prometheus"
    run(promtool, "check", "rules", "alerts.yml", cwd=rules)
    result = run(promtool, "test", "rules", "alerts.test.yml", cwd=rules)
    assert "SUCCESS" in result.stdout + result.stderr


@pytest.mark.slow
def test_adopted_project_template_files_never_name_the_example(adopted):
    _, project, *_ = adopted
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, EXAMPLE_NAMES)) + r")\b")
    found = []
    for path in sorted(project.rglob("*")):
        relative = path.relative_to(project).as_posix()
        if not path.is_file() or relative in TEAM_OWNED or relative.startswith(TEAM_OWNED_DIRS):
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        found += [
            f"{relative}:{number}: {match.group(1)}"
            for number, line in enumerate(text.splitlines(), 1)
            for match in pattern.finditer(line)
        ]
    assert not found, "template-owned files name the example:\n" + "\n".join(found)


# The adopted project that is then updated with changed answers (the last slow check).
UPDATED = "mixed"


@pytest.mark.slow
def test_answer_changes_after_adoption_merge_without_conflicts_and_stay_green(adopted):
    """A later `copier update` that changes the deployment target and the CI provider
    leaves every adopted file as it was, gives no conflicts and needs no edit."""
    name, project, env, *_ = adopted
    if name != UPDATED:
        pytest.skip(f"one adopted project goes through the update: {UPDATED}")
    owned = [
        path
        for path in sorted(project.rglob("*"))
        if path.is_file()
        and path.relative_to(project).as_posix().startswith(
            (f"src/{PACKAGE}/schema.py", f"src/{PACKAGE}/features.py", "params.yml",
             "data/golden/", "tests/golden/")
        )
    ]  # fmt: skip
    before = {path: path.read_bytes() for path in owned}
    # The project's own commands above left nothing to commit: the update starts clean.
    assert run("git", "status", "--porcelain", cwd=project).stdout == ""
    run_update(project, data={"deploy_target": "docker_swarm", "ci_provider": "gitlab"},
               defaults=True, overwrite=True, unsafe=False, vcs_ref="HEAD",
               conflict="inline", quiet=True)  # fmt: skip
    assert conflicts(project) == []
    assert {path: path.read_bytes() for path in owned} == before
    assert (project / ".gitlab-ci.yml").is_file()
    assert not (project / ".github").exists()
    run("make", "lint", cwd=project, env=env)
    result = run("make", "test", cwd=project, env=env, timeout=1200)
    assert " passed" in result.stdout
    assert "failed" not in result.stdout


# -- fast: adopt's own copies of template files agree with the template -------------------


def _adopt_module(project: Path):
    """The rendered adopt package, loaded on its own (it imports no sibling module)."""
    package, name = project / ADOPT_PACKAGE, "rendered_adopt"
    spec = importlib.util.spec_from_file_location(
        name, package / "__init__.py", submodule_search_locations=[str(package)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its relative imports look the package up here
    try:
        spec.loader.exec_module(module)
    finally:
        for loaded in [key for key in sys.modules if key == name or key.startswith(name + ".")]:
            del sys.modules[loaded]
    return module


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_adopt_writes_the_tolerances_and_hashes_the_template_writes(tmp_path, task):
    project = generate(tmp_path / "project", project_name=PROJECT, task=task)
    adoption = _adopt_module(project)
    tolerances = project / "tests/golden/tolerances.yml"
    assert adoption.render.render_tolerances(task) == tolerances.read_text()
    assert f"# {ownership.NOTES['exclude']}" == adoption.render.TEAM_NOTE
    assert adoption.render.FEATURES.startswith(adoption.render.TEAM_NOTE + "\n")
    package = project / f"src/{PACKAGE}"
    recorded = json.loads((package / adoption.project.TEMPLATE_FILES).read_text())
    assert set(recorded) == {"model.py", "schema.py", "features.py"}
    for name, digest in recorded.items():
        assert adoption.project.sha256_text((package / name).read_bytes()) == digest


def test_the_written_schema_points_at_the_inference_rules(tmp_path):
    project = generate(tmp_path / "project", project_name=PROJECT)
    adoption = _adopt_module(project)
    rules = project / f"src/{PACKAGE}" / adoption.render.RULES
    assert rules.is_file()
    assert "The rules, so that a reviewer" in rules.read_text()


def test_adopt_replaces_only_the_model_section_of_params(tmp_path):
    project = generate(tmp_path / "project", project_name=PROJECT, data_size="medium")
    adoption = _adopt_module(project)
    text = (project / "params.yml").read_text()
    rewritten = adoption.render.render_params(text, {"alpha": 0.5})
    import yaml

    before, after = yaml.safe_load(text), yaml.safe_load(rewritten)
    assert after["model"] == {"alpha": 0.5}
    assert {k: v for k, v in after.items() if k != "model"} == {
        k: v for k, v in before.items() if k != "model"
    }
    assert rewritten.count("#") == text.count("#")  # the comments stay
