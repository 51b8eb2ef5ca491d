"""Fast tier: Docker, CI/CD and deployment files for every deploy target x CI provider,
checked with the tools that run them (hadolint, check-jsonschema, zizmor, kustomize,
kubernetes-validate, an HCL parser)."""

import itertools
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers import choices, generate, require_tool, run

BIN = Path(sys.executable).parent
COMBOS = list(itertools.product(choices("deploy_target"), choices("ci_provider")))
IDS = [f"{target}-{ci}" for target, ci in COMBOS]


@pytest.fixture(scope="module")
def render(tmp_path_factory):
    """Render each combination once per module (and worker); MLflow on every other one."""
    cache: dict[tuple[str, str], Path] = {}

    def rendered(target: str, ci: str) -> Path:
        if (target, ci) not in cache:
            tracking = ("mlflow", "none")[COMBOS.index((target, ci)) % 2]
            cache[target, ci] = generate(
                tmp_path_factory.mktemp(f"{target}-{ci}"),
                deploy_target=target,
                ci_provider=ci,
                experiment_tracking=tracking,
            )
        return cache[target, ci]

    return rendered


@pytest.fixture(params=COMBOS, ids=IDS)
def project(request, render) -> Path:
    return render(*request.param)


def check_schema(schema: str, *files: Path, cwd: Path) -> None:
    run(str(BIN / "check-jsonschema"), "--builtin-schema", schema, *map(str, files), cwd=cwd)


def answers_of(project: Path) -> dict[str, str]:
    return yaml.safe_load((project / ".copier-answers.yml").read_text())


# --- Docker -----------------------------------------------------------------------------


def test_dockerfiles_pass_hadolint(project):
    dockerfiles = sorted(project.rglob("Dockerfile*"))
    assert dockerfiles
    for dockerfile in dockerfiles:
        run(str(BIN / "hadolint"), "--failure-threshold", "info", str(dockerfile), cwd=project)


def test_dockerfile_builds_from_the_lock_file_and_runs_as_non_root(project):
    text = (project / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)", text, re.MULTILINE)
    assert all(re.search(r":\d+\.\d+\.\d+", image) for image in stages), stages
    assert "COPY pyproject.toml uv.lock ./" in text
    assert "uv sync --locked --no-dev" in text
    assert "UV_COMPILE_BYTECODE=1" in text
    runtime = text.split("AS runtime", 1)[1]
    assert "uv" not in re.findall(r"^COPY --from=(\S+)", runtime, re.MULTILINE)
    assert re.search(r"^USER 10001", runtime, re.MULTILINE)
    assert "HEALTHCHECK" in runtime and "/health" in runtime
    assert "org.opencontainers.image.title" in runtime


def test_dockerignore_keeps_outputs_out_and_golden_data_in(project):
    patterns = (project / ".dockerignore").read_text().split("\n")
    for excluded in (".git", ".venv", "models", "reports", "mlflow.db", ".env"):
        assert excluded in patterns
    assert "tests/*" in patterns and "!tests/golden" in patterns
    assert not [p for p in patterns if p.startswith(("data", "src", "params.yml", "uv.lock"))]


def test_compose_file_is_valid_and_wires_training_to_serving(project):
    check_schema("vendor.compose-spec", project / "compose.yaml", cwd=project)
    compose = yaml.safe_load((project / "compose.yaml").read_text())
    services = compose["services"]
    assert "models:/app/models" in services["train"]["volumes"]
    assert "models:/app/models:ro" in services["api"]["volumes"]
    assert services["api"]["depends_on"]["train"]["condition"] == "service_completed_successfully"
    assert ("mlflow" in services) == (answers_of(project)["experiment_tracking"] == "mlflow")


def test_makefile_has_docker_targets(project):
    make = require_tool("make")
    listing = subprocess.run(
        [make, "help"], cwd=project, capture_output=True, text=True, check=True
    ).stdout
    for target in ("docker-build", "up", "down"):
        assert re.search(rf"^\s+{target}\s", listing, re.MULTILINE), f"make {target} missing"
