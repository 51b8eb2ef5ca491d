"""The projects the deploy tests read: every deploy target x CI provider x compute answer,
rendered once per run and shared by the xdist workers, and the helpers those tests share.

Fast tier: Docker, CI/CD and deployment files checked with the tools that run them
(hadolint, check-jsonschema, zizmor, kustomize, kubernetes-validate, promtool, an HCL
parser), one test file per deploy target or CI provider."""

import contextlib
import fcntl
import itertools
import sys
from pathlib import Path

import yaml

from tests.helpers import choices, run

BIN = Path(sys.executable).parent
COMBOS = list(
    itertools.product(choices("deploy_target"), choices("ci_provider"), choices("compute"))
)
IDS = ["-".join(combo) for combo in COMBOS]
# Targets whose platform runs the image without a models volume: the Dockerfile's last
# stage, `release`, trains the model into the image.
BAKED = {"docker_swarm", "aws", "azure", "huggingface"}
GPU = ("gpu", "multi_gpu")


@contextlib.contextmanager
def locked(path: Path):
    """An exclusive lock on `path` across pytest-xdist workers."""
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def check_schema(schema: str, *files: Path, cwd: Path) -> None:
    run(str(BIN / "check-jsonschema"), "--builtin-schema", schema, *map(str, files), cwd=cwd)


def answers_of(project: Path) -> dict[str, str]:
    return yaml.safe_load((project / ".copier-answers.yml").read_text())
