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
    assert "COPY monitoring/thresholds.yml ./monitoring/" in runtime
    assert "HEALTHCHECK" in runtime
    assert "/health" in runtime
    assert "org.opencontainers.image.title" in runtime


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


# --- GitHub Actions -----------------------------------------------------------------------


def test_github_workflows_and_dependabot_validate(project):
    answers = answers_of(project)
    workflows = sorted((project / ".github" / "workflows").glob("*.yml"))
    if answers["ci_provider"] != "github":
        assert not (project / ".github").exists()
        return
    names = {path.name for path in workflows}
    assert ("cd.yml" in names) == (answers["deploy_target"] != "local")
    check_schema("vendor.github-workflows", *workflows, cwd=project)
    check_schema("vendor.dependabot", project / ".github/dependabot.yml", cwd=project)
    run(str(BIN / "zizmor"), "--offline", "--min-severity", "low", ".github", cwd=project)
    for path in workflows:
        workflow = yaml.safe_load(path.read_text())
        assert workflow["permissions"] == {}, f"{path.name}: default permissions must be none"
        assert "concurrency" in workflow
        for name, job in workflow["jobs"].items():
            assert "permissions" in job, f"{path.name}: job {name} has no permissions"
            granted = job["permissions"]
            assert granted.get("id-token") != "write" or answers["deploy_target"] in (
                "aws",
                "azure",
            ), f"{path.name}: job {name} asks for an OIDC token it does not use"
            for step in job.get("steps", []):
                uses = step.get("uses", "")
                assert not uses or re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", uses), uses
                if uses.startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False


def test_cd_gates_production_behind_an_environment(project):
    path = project / ".github/workflows/cd.yml"
    if not path.exists():
        return
    jobs = yaml.safe_load(path.read_text())["jobs"]
    assert jobs["staging"]["environment"] == "staging"
    assert "refs/heads/main" in jobs["staging"]["if"]
    assert jobs["production"]["environment"] == "production"
    assert "refs/tags/v" in jobs["production"]["if"]


# --- Kubernetes ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kubernetes_project(render) -> Path:
    return render("kubernetes", "github")


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_kustomize_overlays_are_valid_kubernetes(kubernetes_project, environment, tmp_path):
    kubectl = require_tool("kubectl")
    manifests = run(
        kubectl, "kustomize", f"deploy/kubernetes/overlays/{environment}", cwd=kubernetes_project
    ).stdout
    rendered = tmp_path / "manifests.yaml"
    rendered.write_text(manifests)
    run(str(BIN / "kubernetes-validate"), "--strict", str(rendered), cwd=tmp_path)
    documents = list(yaml.safe_load_all(manifests))
    resources = {(doc["kind"], doc["metadata"]["name"]): doc for doc in documents}
    namespace = "wine-quality" + ("-staging" if environment == "staging" else "")
    assert all(doc["metadata"].get("namespace", namespace) == namespace for doc in documents)
    expected = {
        "Namespace", "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget",
        "PersistentVolumeClaim", "CronJob", "ServiceMonitor", "PrometheusRule",
    }  # fmt: skip
    assert {kind for kind, _ in resources} == expected
    pod = resources["Deployment", "api"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    container = pod["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"livenessProbe", "readinessProbe", "startupProbe", "resources"} <= set(container)
    hpa = resources["HorizontalPodAutoscaler", "api"]["spec"]
    assert resources["Deployment", "api"]["spec"]["replicas"] == hpa["minReplicas"] >= 2


def test_prometheus_rules_pass_promtool(kubernetes_project, tmp_path):
    promtool = require_tool("promtool")
    for environment in ("staging", "production"):
        rule = yaml.safe_load(
            (kubernetes_project / f"deploy/kubernetes/overlays/{environment}/prometheusrule.yaml")
            .read_text()
        )  # fmt: skip
        rules = tmp_path / f"{environment}.yml"
        rules.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
        run(promtool, "check", "rules", str(rules), cwd=tmp_path)


def test_model_alerts_reach_the_cluster_as_the_generated_rules(kubernetes_project, tmp_path):
    """The base's PrometheusRule carries exactly the groups of monitoring/prometheus/alerts.yml."""
    manifest = yaml.safe_load(
        (kubernetes_project / "deploy/kubernetes/base/prometheusrule-model.yaml").read_text()
    )
    rules = yaml.safe_load((kubernetes_project / "monitoring/prometheus/alerts.yml").read_text())
    assert manifest["kind"] == "PrometheusRule"
    assert manifest["spec"]["groups"] == rules["groups"]
    promtool = require_tool("promtool")
    groups = tmp_path / "model.yml"
    groups.write_text(yaml.safe_dump({"groups": manifest["spec"]["groups"]}))
    run(promtool, "check", "rules", str(groups), cwd=tmp_path)


# --- GitLab -------------------------------------------------------------------------------


def test_gitlab_pipeline_validates(project):
    answers = answers_of(project)
    path = project / ".gitlab-ci.yml"
    assert path.exists() == (answers["ci_provider"] == "gitlab")
    if not path.exists():
        return
    check_schema("vendor.gitlab-ci", path, cwd=project)
    pipeline = yaml.safe_load(path.read_text())
    assert {"lint", "test", "golden", "docker-lint", "build-image", "scan"} <= set(pipeline)
    assert pipeline["golden"]["artifacts"]["when"] == "always"
    assert "container_scanning" in pipeline["scan"]["artifacts"]["reports"]
    deploys = {name for name in pipeline if name.startswith("deploy-")}
    if answers["deploy_target"] == "local":
        assert not deploys
    else:
        assert deploys == {"deploy-staging", "deploy-production"}
        assert pipeline["deploy-production"]["rules"][0]["when"] == "manual"
        assert pipeline["deploy-production"]["environment"]["name"] == "production"


@pytest.mark.parametrize("remote", ["s3", "azure_blob"])
def test_cd_fetches_dvc_golden_data_before_building_the_image(tmp_path, remote):
    project = generate(
        tmp_path / "p", deploy_target="kubernetes", ci_provider="github", golden_data_remote=remote
    )
    cd = yaml.safe_load((project / ".github/workflows/cd.yml").read_text())
    for name, job in cd["jobs"].items():
        runs = [step.get("run", "") for step in job["steps"]]
        pull = next(i for i, command in enumerate(runs) if "make golden-pull" in command)
        deploy = next(i for i, command in enumerate(runs) if "make deploy" in command)
        assert pull < deploy, f"{name} deploys before fetching the golden data"
        assert job["permissions"].get("id-token") == "write"
