"""Docker: every target's Dockerfile (hadolint, the lock file, non-root, the release
stage), .dockerignore, compose and the Makefile's Docker targets."""

import re
import subprocess

import yaml

from tests.deploy.projects import BAKED, BIN, answers_of, check_schema
from tests.helpers import require_tool, run


def test_dockerfiles_pass_hadolint(project):
    dockerfiles = sorted(project.rglob("Dockerfile*"))
    assert dockerfiles
    for dockerfile in dockerfiles:
        run(str(BIN / "hadolint"), "--failure-threshold", "info", str(dockerfile), cwd=project)


def test_dockerfile_builds_from_the_lock_file_and_runs_as_non_root(project):
    text = (project / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+) AS (\S+)", text, re.MULTILINE)
    names = [name for _, name in stages]
    bases = [image for image, _ in stages if image not in names]
    assert all(re.search(r":\d+\.\d+\.\d+", image) for image in bases), bases
    assert "COPY pyproject.toml uv.lock ./" in text
    assert "uv sync --locked --no-dev" in text
    assert "UV_COMPILE_BYTECODE=1" in text
    runtime = text.split("AS runtime", 1)[1]
    assert "uv" not in re.findall(r"^COPY --from=(\S+)", runtime, re.MULTILINE)
    assert re.search(r"^USER 10001", runtime, re.MULTILINE)
    assert "COPY monitoring/thresholds.yml ./monitoring/" in runtime
    assert "HEALTHCHECK" in runtime
    assert "/health" in runtime
    assert "org.opencontainers.image.title" in runtime


def test_release_stage_trains_the_model_into_the_last_stage(project):
    """Targets without a models volume get a last `release` stage that trains the model on
    the golden data; the others end with `runtime`, which the model volume feeds."""
    target = answers_of(project)["deploy_target"]
    text = (project / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+) AS (\S+)", text, re.MULTILINE)
    if target not in BAKED:
        assert stages[-1][1] == "runtime"
        assert not re.search(r"^RUN .*\btrain\b", text, re.MULTILINE)
        return
    assert stages[-1] == ("runtime", "release"), "release must be the last stage"
    release = text.split("AS release", 1)[1]
    assert re.search(r"^RUN .*wine_quality.*--json-logs.*\btrain\b", release, re.MULTILINE)
    port = "7860" if target == "huggingface" else "8000"
    exposed = re.findall(r"^EXPOSE (\d+)", text, re.MULTILINE)[-1]
    served = re.findall(r'^CMD \[.*"--port", "(\d+)"\]', text, re.MULTILINE)[-1]
    checked = re.findall(r"127\.0\.0\.1:(\d+)/health", text)[-1]
    assert exposed == served == checked == port


def test_dockerignore_keeps_outputs_out_and_golden_data_in(project):
    patterns = (project / ".dockerignore").read_text().split("\n")
    for excluded in (".git", ".venv", "models", "reports", "mlflow.db", ".env"):
        assert excluded in patterns
    assert "tests/*" in patterns
    assert "!tests/golden" in patterns
    # Of data/, only the golden data: the medium engine's parquet cache stays out.
    assert [p for p in patterns if p.startswith(("data", "!data"))] == ["data/*", "!data/golden"]
    assert not [p for p in patterns if p.startswith(("src", "params.yml", "uv.lock"))]


def test_compose_file_is_valid_and_wires_training_to_serving(project):
    stack = project / "deploy/swarm/stack.yaml"
    compose_files = [project / "compose.yaml", *([stack] if stack.exists() else [])]
    check_schema("vendor.compose-spec", *compose_files, cwd=project)
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
    targets = ["docker-build", "up", "down"]
    deploy_target = answers_of(project)["deploy_target"]
    if deploy_target != "local":
        targets += ["deploy", "destroy"]
    if deploy_target == "huggingface":
        targets.append("space")
    for target in targets:
        assert re.search(rf"^\s+{target}\s", listing, re.MULTILINE), f"make {target} missing"
    assert ("deploy" in listing) == (deploy_target != "local")
