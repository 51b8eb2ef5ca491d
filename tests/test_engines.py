"""Fast tier: the data_size answer picks the data engine. Each engine's project renders
ruff-clean with its own dependencies, deployment pieces and tests, and the engines
compute identical golden features."""

import importlib
import json
import sys
import tomllib
import types
from pathlib import Path

import dask.dataframe as dd
import pandas as pd
import polars as pl
import pytest
import yaml

from tests import torch_wheels
from tests.helpers import ENGINE_TESTS, TEMPLATE, choices, generate, require_tool, run, set_up

BIN = Path(sys.executable).parent
SIZES = choices("data_size")
# What each engine adds to the default project's files and dependencies.
# The engine modules of each data size (src/<package>/core/engines/, beside __init__ and
# common).
ENGINE_MODULES = {
    "small": {"small.py"},
    "medium": {"medium.py", "batched.py", "incremental.py"},
    "large": {"large.py", "batched.py", "incremental.py"},
}
# What a medium or large project has that a small one has not.
ENGINE_FILES = {
    size: {f"src/engines/core/engines/{name}" for name in modules}
    | ({"tests/test_engine.py"} if size != "small" else set())
    for size, modules in ENGINE_MODULES.items()
    if size != "small"
} | {"small": set()}
ENGINE_DEPENDENCIES = {
    "small": set(),
    "medium": {"polars"},
    "large": {"dask"},
}
ENGINE_IMPORTS = {"medium": "import polars as pl", "large": "import dask.dataframe as dd"}


@pytest.fixture(scope="module")
def projects(tmp_path_factory) -> dict[str, Path]:
    return {
        size: generate(tmp_path_factory.mktemp(size), data_size=size, project_name="Engines")
        for size in SIZES
    }


def files_of(project: Path) -> set[str]:
    return {str(path.relative_to(project)) for path in project.rglob("*") if path.is_file()}


def dependencies(project: Path) -> set[str]:
    declared = tomllib.loads((project / "pyproject.toml").read_text())["project"]["dependencies"]
    return {requirement.split(">")[0].split("[")[0] for requirement in declared}


def test_each_engine_adds_its_own_files_and_dependencies(projects):
    small = projects["small"]
    for size, project in projects.items():
        assert files_of(project) - files_of(small) == ENGINE_FILES[size]
        assert dependencies(project) - dependencies(small) == ENGINE_DEPENDENCIES[size]
        assert {"narwhals", "pyarrow"} <= dependencies(project)


def test_each_engine_renders_ruff_clean(projects):
    for project in projects.values():
        run(str(BIN / "ruff"), "check", "--no-cache", ".", cwd=project)
        run(str(BIN / "ruff"), "format", "--check", "--no-cache", ".", cwd=project)


def test_pipeline_runs_on_the_chosen_engine_only(projects):
    """A project has its own engine's modules only; pipeline.py names it."""
    for size, project in projects.items():
        package = project / "src" / "engines" / "core"
        modules = {path.name for path in (package / "engines").glob("*.py")}
        assert modules == {"__init__.py", "common.py"} | ENGINE_MODULES[size]
        code = "".join(path.read_text() for path in (package / "engines").glob("*.py"))
        engines = {name for name, line in ENGINE_IMPORTS.items() if line in code}
        assert engines == ({size} if size != "small" else set())
        assert f"from .engines.{size} import " in (package / "pipeline.py").read_text()
        model = (package.parent / "model.py").read_text()
        assert ("def partial_fit" in model) == (size != "small")


def test_engine_settings_are_parameters_and_settings(projects):
    for size, project in projects.items():
        params = yaml.safe_load((project / "params.yml").read_text())
        assert ("engine" in params) == (size != "small")
        assert ("dask" in params) == (size == "large")
        if size != "small":
            assert params["model"] == {"alpha": 0.0001}
            assert params["engine"] == {"batch_size": 1024, "epochs": 20}
    config = (projects["large"] / "src/engines/core/config.py").read_text()
    assert "scheduler_address: str | None" in config


def test_compose_runs_a_dask_cluster_for_large_data_only(projects):
    for size, project in projects.items():
        compose = yaml.safe_load((project / "compose.yaml").read_text())
        services = compose["services"]
        assert ({"dask-scheduler", "dask-worker"} <= set(services)) == (size == "large")
    run(
        str(BIN / "check-jsonschema"),
        "--builtin-schema",
        "vendor.compose-spec",
        "compose.yaml",
        cwd=projects["large"],
    )
    services = yaml.safe_load((projects["large"] / "compose.yaml").read_text())["services"]
    assert services["dask-worker"]["deploy"]["replicas"] == 2
    assert services["dask-worker"]["image"] == services["train"]["image"]
    address = services["train"]["environment"]["ENGINES_DASK__SCHEDULER_ADDRESS"]
    assert address == "tcp://dask-scheduler:8786"
    assert "dask-worker" in services["train"]["depends_on"]


@pytest.fixture(scope="module")
def kubernetes_manifests(tmp_path_factory) -> list[dict]:
    kubectl = require_tool("kubectl")
    project = generate(
        tmp_path_factory.mktemp("large-kubernetes"),
        project_name="Engines",
        data_size="large",
        deploy_target="kubernetes",
    )
    rendered = run(kubectl, "kustomize", "deploy/kubernetes/overlays/production", cwd=project)
    return list(yaml.safe_load_all(rendered.stdout))


def test_kubernetes_manifests_stay_valid_beside_the_dask_cluster(kubernetes_manifests, tmp_path):
    # kubernetes-validate knows the built-in kinds, not the Dask operator's resource.
    builtin = [doc for doc in kubernetes_manifests if doc["kind"] != "DaskCluster"]
    manifests = tmp_path / "manifests.yaml"
    manifests.write_text(yaml.safe_dump_all(builtin))
    run(str(BIN / "kubernetes-validate"), "--strict", str(manifests), cwd=tmp_path)
    job = next(doc for doc in builtin if doc["kind"] == "CronJob")
    container = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    env = {variable["name"]: variable["value"] for variable in container["env"]}
    assert env["ENGINES_DASK__SCHEDULER_ADDRESS"] == "tcp://dask-scheduler:8786"


def test_dask_cluster_resource_has_the_operators_structure(kubernetes_manifests):
    """The fields the Dask operator's DaskCluster CRD (kubernetes.dask.org/v1) requires."""
    (cluster,) = [doc for doc in kubernetes_manifests if doc["kind"] == "DaskCluster"]
    assert cluster["apiVersion"] == "kubernetes.dask.org/v1"
    assert cluster["metadata"]["namespace"] == "engines"
    image = "ghcr.io/ml-team/engines"
    scheduler = cluster["spec"]["scheduler"]
    (container,) = scheduler["spec"]["containers"]
    assert container["image"].startswith(image)
    assert container["args"][:2] == ["dask", "scheduler"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"tcp-comm": 8786, "http-dashboard": 8787}
    service = scheduler["service"]
    assert {port["targetPort"] for port in service["ports"]} == set(ports)
    assert service["selector"]["dask.org/cluster-name"] == cluster["metadata"]["name"]
    assert service["selector"]["dask.org/component"] == "scheduler"
    worker = cluster["spec"]["worker"]
    assert worker["replicas"] == 2
    (container,) = worker["spec"]["containers"]
    assert container["image"].startswith(image)
    assert container["args"][:2] == ["dask", "worker"]
    for pod in (scheduler["spec"], worker["spec"]):
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True
        assert "limits" in pod["containers"][0]["resources"]


@pytest.fixture(scope="module")
def features_module(projects) -> types.ModuleType:
    """The rendered features.py (and the schema it reads), imported without installing the
    generated package: only narwhals and the engines are needed."""
    package = types.ModuleType("engines")
    package.__path__ = [str(projects["small"] / "src" / "engines")]
    sys.modules["engines"] = package
    try:
        yield importlib.import_module("engines.features")
    finally:
        for name in [name for name in sys.modules if name.split(".")[0] == "engines"]:
            del sys.modules[name]


@pytest.mark.filterwarnings("ignore:Dask support is moving out of Narwhals:FutureWarning")
def test_engines_compute_identical_golden_features(features_module):
    golden = pd.read_csv(TEMPLATE / "data" / "golden" / "wine.csv")
    build = features_module.build_features
    on_pandas = build(golden)
    on_polars = build(pl.from_pandas(golden).lazy()).collect().to_pandas()
    on_dask = build(dd.from_pandas(golden, npartitions=3)).compute().reset_index(drop=True)
    assert len(on_pandas) == len(golden)
    pd.testing.assert_frame_equal(on_polars, on_pandas, check_exact=True)
    pd.testing.assert_frame_equal(on_dask, on_pandas, check_exact=True)


@pytest.mark.slow
@pytest.mark.parametrize("size", ["medium", "large"])
@pytest.mark.parametrize("framework", ["sklearn", "pytorch"])
def test_engine_project_trains_as_its_baseline_and_passes_its_engine_tests(
    tmp_path, size, framework
):
    """Set up as a user would, `make train` (for large, on a LocalCluster of worker
    processes) and the tests that exercise the engine: its own tests, the pipeline's and
    the golden tests (the shipped baseline reproduces on this engine). The rest of the
    suite does not depend on the engine and runs in the default project's slow test
    (and, for PyTorch, in tests/test_torch.py's)."""
    extra_env = {}
    if framework == "pytorch":
        extra_env = torch_wheels.uv_config(tmp_path, torch_wheels.require_wheel())
    project = generate(tmp_path / size, data_size=size, framework=framework)
    env = set_up(project, extra_env=extra_env)
    run("make", "train", cwd=project, env=env)
    metrics = json.loads((project / "reports/metrics.json").read_text())
    baseline = json.loads((project / "tests/golden/baseline/metrics.json").read_text())
    assert metrics == pytest.approx(baseline, abs=1e-9)
    result = run("uv", "run", "pytest", "-q", *ENGINE_TESTS, cwd=project, env=env)
    assert " passed" in result.stdout
    assert "failed" not in result.stdout
