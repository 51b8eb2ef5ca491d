"""Slow tier: the generated image builds with podman and runs as it would be deployed.

The default project (scikit-learn, Python 3.11, MLflow tracking) is set up as a user
would (`make setup`, lock committed) and its image built with `make docker-build`, with
podman standing in for docker, on stand-in base images (tests/standin_images.py: no
registry is reachable here). Its
containers run as they are deployed: as a non-root user on a read-only root file system,
with only the models and reports volumes writable. `train` runs inside the image with its
default settings; the service then answers /health, /ready, /predict and /metrics over
loopback and passes its own HEALTHCHECK, which podman keeps in the docker image format.

Runs as root only (debootstrap and podman's storage); the CI machine is root. Other
Python minors and the PyTorch variants are built by a real runner only: their bases
cannot be stood in here (docs/architecture.md).
"""

import json
import os
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.helpers import (
    IN_CI,
    call,
    free_port,
    generate,
    golden_record,
    is_ready,
    metric_samples,
    require_tool,
    run,
    set_up,
)
from tests.standin_images import build_base_images

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("image")]

PACKAGE = "wine_quality"
APP_UID = "10001"
# crun fails on this machine's cgroup setup; runc with bounded limits runs the containers.
ROOT_MOUNT_OPTIONS = (
    "print(next(line.split()[3] for line in open('/proc/mounts') if line.split()[1] == '/'))"
)
RUN = ("--runtime", "runc", "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096")


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    if os.geteuid() != 0:
        message = "podman's storage and debootstrap need root here"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    podman = require_tool("podman")
    require_tool("debootstrap")
    project = generate(tmp_path_factory.mktemp("image") / "wine-quality")
    env = set_up(project)
    build_base_images(project / "Dockerfile", podman)
    tag = f"localhost/copier-mlops-test/{PACKAGE.replace('_', '-')}:{uuid.uuid4().hex[:12]}"
    # `make docker-build` as a podman user runs it: `docker` is podman (as podman-docker
    # installs it), the base images are here already, and chroot isolation (crun fails on
    # this machine's cgroups). The Makefile alone asks for the docker image format.
    shim = tmp_path_factory.mktemp("podman-docker")
    (shim / "docker").write_text(f'#!/bin/sh\nexec {podman} "$@"\n')
    (shim / "docker").chmod(0o755)
    build_env = {**env, "PATH": f"{shim}:{os.environ['PATH']}", "BUILDAH_ISOLATION": "chroot"}
    run("make", "docker-build", f"IMAGE={tag}", cwd=project, env=build_env, timeout=900)
    volumes = {name: f"{tag.rsplit(':', 1)[1]}-{name}" for name in ("models", "reports")}
    yield podman, project, env, tag, volumes
    subprocess.run([podman, "volume", "rm", "--force", *volumes.values()], check=False)
    subprocess.run([podman, "rmi", "--force", tag], check=False)


def mounts(volumes: dict[str, str]) -> list[str]:
    """The writable volumes, each on its folder under /app."""
    return [flag for name, volume in volumes.items() for flag in ("-v", f"{volume}:/app/{name}")]


def container(podman: str, tag: str, volumes: dict[str, str], *command: str, **options):
    """`podman run` of the image as deployed: read-only root, models and reports writable."""
    return subprocess.run(
        [podman, "run", "--rm", *RUN, "--no-healthcheck", "--read-only", *mounts(volumes), tag,
         *command],
        capture_output=True, text=True, timeout=600, check=False, **options,
    )  # fmt: skip


@pytest.fixture(scope="module")
def trained(image):
    podman, _, _, tag, volumes = image
    result = container(podman, tag, volumes, PACKAGE, "--json-logs", "train")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return image, result


def test_image_runs_as_a_non_root_user_on_a_read_only_root(image):
    podman, _, _, tag, volumes = image
    inspected = json.loads(run(podman, "image", "inspect", tag, cwd=Path.cwd()).stdout)[0]
    assert inspected["Config"]["User"] == f"{APP_UID}:{APP_UID}"
    # podman's default OCI format drops a HEALTHCHECK; the docker format keeps it.
    assert inspected["Healthcheck"]["Test"][0] == "CMD", "the image lost its HEALTHCHECK"
    identity = container(podman, tag, volumes, "id", "-u")
    assert identity.stdout.strip() == APP_UID, identity.stderr
    root = container(podman, tag, volumes, "python", "-c", ROOT_MOUNT_OPTIONS)
    assert root.stdout.split(",")[0] == "ro", root.stdout + root.stderr


def test_image_trains_with_its_default_settings(trained):
    (podman, _, _, tag, volumes), result = trained
    output = result.stdout + result.stderr
    events = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert any(event["event"] == "trained" for event in events), output[-2000:]
    # The model, and the MLflow store with its artifacts, live on the models volume.
    listed = container(podman, tag, volumes, "find", "/app/models", "-name", "*.joblib")
    found = listed.stdout.split()
    assert "/app/models/model.joblib" in found, listed.stderr
    assert any(path.startswith("/app/models/mlruns/") for path in found), found
    stored = container(podman, tag, volumes, "ls", "/app/models", "/app/reports")
    assert "mlflow.db" in stored.stdout.split()
    assert "metrics.json" in stored.stdout.split()


def test_image_serves_predictions_metrics_and_passes_its_healthcheck(trained):
    (podman, project, env, tag, volumes), _ = trained
    port = free_port()
    name = f"copier-mlops-test-{uuid.uuid4().hex[:12]}"
    run(
        podman, "run", "--detach", "--name", name, *RUN, "--read-only", *mounts(volumes),
        "--publish", f"127.0.0.1:{port}:8000", tag, cwd=project,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, podman, name)
        assert call(f"{base}/health") == (200, {"status": "ok"})
        record = golden_record(project, PACKAGE, env)
        status, body = call(f"{base}/predict", {"records": [record, record]})
        assert status == 200, body
        assert len(body["predictions"]) == 2
        field = next(key for key, value in record.items() if isinstance(value, float))
        status, body = call(f"{base}/predict", {"records": [{**record, field: "not a number"}]})
        assert status == 422
        assert body["detail"][0]["loc"][-1] == field
        with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:
            samples = metric_samples(project, env, response.read().decode())
        served = [value for sample, _, value in samples if sample == "predictions_total"]
        assert sum(served) == 2
        # podman keeps the HEALTHCHECK in the docker format, and it passes.
        run(podman, "healthcheck", "run", name, cwd=project)
        # SIGTERM: the service finishes and exits cleanly within the stop timeout.
        run(podman, "stop", "--time", "20", name, cwd=project)
        state = run(podman, "inspect", "--format", "{{.State.ExitCode}}", name, cwd=project)
        assert state.stdout.strip() == "0"
        logs = run(podman, "logs", name, cwd=project)
        assert '"event": "request"' in logs.stdout + logs.stderr
    finally:
        subprocess.run([podman, "rm", "--force", name], capture_output=True, check=False)


def _wait_ready(base: str, podman: str, name: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not is_ready(base):
        if time.monotonic() > deadline:
            logs = subprocess.run([podman, "logs", name], capture_output=True, text=True)
            pytest.fail(f"the container was not ready within {timeout_s:g} s:\n{logs.stderr}")
        time.sleep(0.5)
