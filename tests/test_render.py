"""Fast tier: render a covering set of answer combinations and validate what is generated
with the tools a user's CI would run."""

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from scripts import ownership
from tests.helpers import QUESTIONS, ROOT, TEMPLATE, generate, require_tool, run

JINJA_LEFTOVER = re.compile(r"(?<!\$)\{\{|\{%|\{#|%\}|#\}")
BIN = Path(sys.executable).parent
# No module of a generated package is longer (issue #19).
MAX_MODULE_LINES = 400

KUBERNETES = "deploy/kubernetes"
DEPLOY_FILES = {
    "local": set(),
    "docker_swarm": {"deploy/swarm/stack.yaml", "deploy/swarm/prometheus.yml"},
    "huggingface": {"deploy/huggingface/README.md"},
    "kubernetes": {
        *(
            f"{KUBERNETES}/base/{name}.yaml"
            for name in (
                "kustomization", "deployment", "service", "hpa", "pdb", "pvc", "cronjob-train",
                "servicemonitor", "prometheusrule-model",
            )
        ),
        *(
            f"{KUBERNETES}/overlays/{environment}/{name}.yaml"
            for environment in ("staging", "production")
            for name in ("kustomization", "namespace", "prometheusrule")
        ),
    },
}  # fmt: skip


def terraform_files(answers: dict[str, str]) -> set[str]:
    """The Terraform configuration of a cloud target: GPU capacity and CI identity only
    when the answers call for them."""
    target = answers["deploy_target"]
    names = {
        "aws": ["versions", "variables", "network", "storage", "service", "alarms", "outputs"],
        "azure": ["versions", "variables", "main", "storage", "alerts", "outputs"],
    }.get(target, [])
    if not names:
        return set()
    if target == "aws" and answers["compute"] in ("gpu", "multi_gpu"):
        names.append("gpu")
    if answers["ci_provider"] != "none":
        names.append("ci")
    return {f"deploy/{target}/{name}.tf" for name in names}


def expected_files(answers: dict[str, str], package: str) -> set[str]:
    files = {
        ".copier-answers.yml",
        ".dockerignore",
        ".gitignore",
        ".pre-commit-config.yaml",
        ".python-version",
        "LICENSE",
        "Dockerfile",
        "Makefile",
        "README.md",
        "compose.yaml",
        "mkdocs.yml",
        "docs/api.md",
        "docs/index.md",
        "docs/plan.md",
        "params.yml",
        "pyproject.toml",
        "data/golden/manifest.json",
        "data/golden/wine.csv",
        "tests/conftest.py",
        "tests/records.py",
        "tests/test_adopt.py",
        "tests/test_cli.py",
        "tests/test_data.py",
        "tests/test_features.py",
        "tests/test_pipeline.py",
        "tests/test_serve.py",
        "tests/test_synthetic.py",
        "tests/golden/test_golden.py",
        "tests/golden/tolerances.yml",
        "tests/golden/baseline/fingerprint.json",
        "tests/golden/baseline/metrics.json",
        "tests/golden/baseline/model.joblib",
        "tests/golden/baseline/predictions.csv",
    }
    # The team's modules at the top of the package, the template's plumbing in core/.
    team = ("__init__", "__main__", "schema", "features", "model")
    files |= {f"src/{package}/{name}.py" for name in team}
    files |= {
        f"src/{package}/core/{name}"
        for name in (
            "__init__.py", "cli.py", "config.py", "contract.py", "data.py",
            *(f"golden/{name}.py" for name in ("__init__", "code", "fingerprint", "baseline",
                                               "compare", "guards")),
            "log.py", "pipeline.py", "serve.py", "synthetic.py", "template_files.json",
            *(f"adopt/{name}.py" for name in ("__init__", "errors", "scan", "infer", "plan",
                                              "render", "project")),
        )
    }  # fmt: skip
    files |= {
        f"src/{package}/core/monitoring/{name}.py"
        for name in ("__init__", "alerts", "drift", "history", "metrics", "report", "thresholds")
    }
    files |= {
        "tests/test_monitoring.py",
        "tests/test_drift.py",
        "tests/test_alerts.py",
        "monitoring/thresholds.yml",
        "security/audit-ignore.txt",
        "security/secrets.baseline",
        "monitoring/prometheus/prometheus.yml",
        "monitoring/prometheus/alerts.yml",
        "monitoring/prometheus/alerts.test.yml",
        "monitoring/grafana/provisioning/datasources/prometheus.yml",
        "monitoring/grafana/provisioning/dashboards/dashboards.yml",
        "monitoring/grafana/dashboards/prediction-service.json",
    }
    if answers["experiment_tracking"] == "mlflow":
        files.add(f"src/{package}/core/tracking.py")
    framework = answers.get("framework", "sklearn" if answers["compute"] == "cpu" else "pytorch")
    if framework == "pytorch":
        files |= {f"src/{package}/network.py"}
        files |= {
            f"src/{package}/core/{name}.py"
            for name in ("torch_model", "torch_estimator", "torch_device", "distributed")
        }
        files |= {"tests/test_torch_model.py", "tests/test_distributed.py"}
    if answers["ci_provider"] == "github":
        files |= {".github/workflows/ci.yml", ".github/workflows/template-update.yml"}
        files.add(".github/dependabot.yml")
        if answers["deploy_target"] != "local":
            files.add(".github/workflows/cd.yml")
    if answers["ci_provider"] == "gitlab":
        files |= {".gitlab-ci.yml", "renovate.json"}
    files |= DEPLOY_FILES.get(answers["deploy_target"], set()) | terraform_files(answers)
    size = answers["data_size"]
    engines = {"common", size} | ({"batched", "incremental"} if size != "small" else set())
    files |= {f"src/{package}/core/engines/{name}.py" for name in {"__init__", *engines}}
    if size != "small":
        files.add("tests/test_engine.py")
    if answers["data_size"] == "large" and answers["deploy_target"] == "kubernetes":
        files.add(f"{KUBERNETES}/base/daskcluster.yaml")
    if answers["golden_data_remote"] != "git":
        files |= {".dvc/config", ".dvc/.gitignore", "data/golden/.gitignore"}
        files.add("data/golden/wine.csv.dvc")
    return files


@pytest.fixture(scope="module")
def project(answers, tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("project"), **answers)


def generated_files(project: Path) -> set[str]:
    return {str(path.relative_to(project)) for path in project.rglob("*") if path.is_file()}


def test_exact_file_set(project, answers):
    assert generated_files(project) == expected_files(answers, "wine_quality")


def test_every_file_says_who_owns_it(project):
    """The owner note scripts/ownership.py writes is the first line of every file whose
    format has comments (after a Dockerfile's directive or a front matter's opening)."""
    wrong = []
    for name in sorted(generated_files(project)):
        path = name.replace("src/wine_quality/", f"src/{ownership.PACKAGE}/")
        markers = ownership.comment(path)
        if markers is None:
            continue
        start, end = markers
        lines = (project / name).read_text().splitlines()
        first = 1 if lines[0].startswith("# syntax=") or lines[0] == "---" else 0
        if lines[0] == "---":
            start, end = "# ", ""
        if lines[first] != f"{start}{ownership.NOTES[ownership.owner(path)]}{end}":
            wrong.append(f"{name}: {lines[first]!r}")
    assert wrong == []
    package = project / "src" / "wine_quality"
    assert (package / "schema.py").read_text().startswith("# Your file: ")
    assert (package / "core/pipeline.py").read_text().startswith("# Template file (copier-mlops)")


def test_no_unrendered_jinja(project):
    for name in generated_files(project):
        if name.endswith((".joblib", ".csv")):
            continue
        text = (project / name).read_text()
        assert not JINJA_LEFTOVER.search(text), f"{name} has Jinja left in it"


def test_structured_files_parse(project):
    for path in project.rglob("*"):
        if path.suffix == ".toml":
            tomllib.loads(path.read_text())
        elif path.suffix in (".yml", ".yaml"):
            yaml.safe_load(path.read_text())
        elif path.suffix == ".json":
            json.loads(path.read_text())


def test_answers_recorded_for_update(project, answers):
    recorded = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert recorded["_src_path"]
    assert recorded["_commit"]
    for name, value in answers.items():
        assert recorded[name] == value


def test_python_version_is_consistent(project, answers):
    version = answers["python_version"]
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["requires-python"] == f">={version}"
    assert pyproject["tool"]["ruff"]["target-version"] == "py" + version.replace(".", "")
    assert (project / ".python-version").read_text().strip() == version
    workflow = project / ".github/workflows/ci.yml"
    if workflow.exists():
        assert yaml.safe_load(workflow.read_text())["env"]["UV_PYTHON"] == version


def test_license_matches_answer(project, answers):
    text = (project / "LICENSE").read_text()
    expected = {
        "MIT": "MIT License",
        "Apache-2.0": "Apache License",
        "BSD-3-Clause": "BSD 3-Clause License",
        "Proprietary": "All rights reserved.",
    }[answers["license"]]
    assert expected in text
    assert "ML Team" in text or answers["license"] == "Apache-2.0"


def test_ruff_clean_as_rendered(project):
    ruff = str(BIN / "ruff")
    run(ruff, "check", "--no-cache", ".", cwd=project)
    run(ruff, "format", "--check", "--no-cache", ".", cwd=project)


def test_no_generated_module_is_over_400_lines(project):
    """Each module of the generated package, and each of its tests, keeps to one concern,
    short enough to read whole."""
    long = {}
    for path in sorted([*(project / "src").rglob("*.py"), *(project / "tests").rglob("*.py")]):
        lines = len(path.read_text().splitlines())
        if lines > MAX_MODULE_LINES:
            long[str(path.relative_to(project))] = lines
    assert long == {}


def test_workflows_pass_schema_and_zizmor(project, answers):
    workflows = sorted((project / ".github" / "workflows").glob("*.yml"))
    if answers["ci_provider"] != "github":
        assert not workflows
        return
    run(
        str(BIN / "check-jsonschema"),
        "--builtin-schema",
        "vendor.github-workflows",
        *map(str, workflows),
        cwd=project,
    )
    run(str(BIN / "zizmor"), "--offline", "--min-severity", "low", ".github/workflows", cwd=project)
    text = "\n".join(path.read_text() for path in workflows)
    for action in re.findall(r"uses:\s*(\S+)", text):
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action), f"{action} is not SHA-pinned"


def test_generated_makefile_has_every_documented_target(project):
    make = require_tool("make")
    listing = subprocess.run(
        [make, "help"], cwd=project, capture_output=True, text=True, check=True
    ).stdout
    for target in ("setup", "lint", "format", "test", "train", "evaluate", "predict", "serve"):
        assert re.search(rf"^\s+{target}\s", listing, re.MULTILINE), f"make {target} missing"


def test_template_repo_is_safe_to_copy_without_trust():
    config = yaml.safe_load((ROOT / "copier.yml").read_text())
    assert "_tasks" not in config
    assert "_jinja_extensions" not in config
    assert "_migrations" not in config or all(
        isinstance(step, dict) for step in config["_migrations"]
    )


def test_plan_describes_the_answers(project, answers):
    plan = (project / "docs" / "plan.md").read_text()
    for name in ("data_size", "compute", "deploy_target", "ci_provider", "experiment_tracking"):
        assert f"`{answers[name]}`" in plan, f"the plan does not mention {name}={answers[name]}"
    assert "## Growth path: when to re-answer" in plan
    assert "docs/plan.md" in (project / "README.md").read_text()


# What a path in template/ may hold: a variable, or a test of one derived variable.
PATH_VARIABLE = re.compile(r"\{\{ [a-z_.]+ \}\}")
PATH_FLAG = re.compile(r"\{% if ([a-z0-9_]+) %\}[^{}]+\{% endif %\}")


def test_template_paths_choose_no_variant_but_through_a_derived_flag():
    """Variants are whole files that copier.yml's `_exclude` leaves out per answer; a path
    holds no condition, except the one-path variants' (golden baselines, model.py) test of
    one derived variable."""
    derived = {
        name
        for name, spec in QUESTIONS.items()
        if spec.get("when") is False and spec.get("type") == "bool"
    }
    problems = []
    for path in sorted(TEMPLATE.rglob("*")):
        relative = path.relative_to(TEMPLATE).as_posix()
        flags = PATH_FLAG.findall(relative)
        rest = PATH_FLAG.sub("", PATH_VARIABLE.sub("", relative))
        if "{" in rest or "}" in rest:
            problems.append(f"{relative}: a Jinja expression in the path")
        problems += [f"{relative}: {flag} is not a derived flag" for flag in flags
                     if flag not in derived]  # fmt: skip
    assert problems == []
