"""The rendered projects every deploy test reads (see projects.py)."""

from pathlib import Path

import pytest

from tests.deploy.projects import COMBOS, IDS, locked
from tests.helpers import generate


@pytest.fixture(scope="session")
def render(tmp_path_factory, worker_id):
    """Render each combination once for the whole run, shared by the xdist workers (each
    would otherwise render every combination it meets); MLflow on every other one.
    Tests read the rendered projects and write only to copies."""
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if worker_id != "master" else base) / "deploy-renders"
    root.mkdir(exist_ok=True)

    def rendered(target: str, ci: str, compute: str = "cpu") -> Path:
        key = (target, ci, compute)
        destination = root / "-".join(key)
        with locked(root / f"{destination.name}.lock"):
            if not (destination / ".copier-answers.yml").exists():
                generate(
                    destination,
                    deploy_target=target,
                    ci_provider=ci,
                    compute=compute,
                    experiment_tracking=("mlflow", "none")[COMBOS.index(key) % 2],
                )
        return destination

    return rendered


@pytest.fixture(params=COMBOS, ids=IDS)
def project(request, render) -> Path:
    return render(*request.param)
