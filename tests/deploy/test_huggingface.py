"""Hugging Face: the Space card, what `make space` assembles and the deploy's token."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.helpers import require_tool


@pytest.fixture(scope="module")
def space_project(render) -> Path:
    return render("huggingface", "github")


def front_matter(path: Path) -> dict:
    _, header, _ = path.read_text().split("---\n", 2)
    return yaml.safe_load(header)


def test_space_card_declares_a_docker_space_on_the_served_port(space_project):
    card = front_matter(space_project / "deploy/huggingface/README.md")
    assert card["sdk"] == "docker"
    assert card["app_port"] == 7860
    assert f'"--port", "{card["app_port"]}"' in (space_project / "Dockerfile").read_text()
    assert len(card["short_description"]) <= 60
    assert card["license"] == "other"


def committed_copy(project: Path, destination: Path) -> Path:
    """A copy of `project` as a team has it: `make setup`'s uv.lock, all of it committed."""
    copy = shutil.copytree(project, destination)
    (copy / "uv.lock").write_text("version = 1\n")  # `make setup` writes the real one
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    for command in (["init", "--quiet"], ["add", "--all"], ["commit", "--quiet", "-m", "initial"]):
        subprocess.run([*git, *command], cwd=copy, check=True, capture_output=True)
    return copy


def test_make_space_assembles_everything_the_dockerfile_copies(space_project, tmp_path):
    """`make space` gathers what the Space's image build reads (Hugging Face builds the
    Dockerfile from the Space's repository, so a missing file fails there, not here)."""
    make = require_tool("make")
    project = committed_copy(space_project, tmp_path / "project")
    subprocess.run([make, "space"], cwd=project, check=True, capture_output=True)
    space = project / "build/space"
    dockerfile = (space / "Dockerfile").read_text()
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", dockerfile, re.MULTILINE)
    sources = {source for line in copied for source in line.split()}
    assert sources
    for source in sources:
        assert (space / source).exists(), f"the Space lacks {source}"
    assert front_matter(space / "README.md")["sdk"] == "docker"
    assert not list(space.rglob("__pycache__"))


def test_the_space_is_pinned_to_its_source_commit(space_project, tmp_path):
    """The Space builds its own image, so it names the commit its files come from; files
    that differ from that commit mark it -dirty, and CD names the commit it checked out."""
    make = require_tool("make")
    project = committed_copy(space_project, tmp_path / "project")
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=project, check=True, capture_output=True, text=True
    ).stdout.strip()
    pinned = project / "build/space/SOURCE_COMMIT"
    subprocess.run([make, "space"], cwd=project, check=True, capture_output=True)
    assert pinned.read_text() == f"{head}\n"
    with (project / "params.yml").open("a") as params:
        params.write("# an edit not yet committed\n")
    subprocess.run([make, "space"], cwd=project, check=True, capture_output=True)
    assert pinned.read_text() == f"{head}-dirty\n"
    makefile = (project / "Makefile").read_text()
    assert "commit --quiet --message 'Deploy $(COMMIT)'" in makefile
    assert "git push --force --quiet" in makefile, "a re-run pushes the same files again"


def test_space_deploy_pushes_with_the_token(render):
    makefile = (render("huggingface", "none") / "Makefile").read_text()
    assert "git lfs track '*.joblib'" in makefile
    assert "password=$$HF_TOKEN" in makefile
    assert "https://huggingface.co/spaces/$(SPACE) main" in makefile
    cd = yaml.safe_load((render("huggingface", "github") / ".github/workflows/cd.yml").read_text())
    spaces = {}
    for name in ("staging", "production"):
        job = cd["jobs"][name]
        step = next(s for s in job["steps"] if "make deploy" in s.get("run", ""))
        assert step["env"]["HF_TOKEN"] == "${{ secrets.HF_TOKEN }}"
        spaces[name] = re.search(r"SPACE=(\S+)", step["run"]).group(1)
    assert spaces == {
        "staging": "ml-team/wine-quality-staging",
        "production": "ml-team/wine-quality",
    }
    gitlab = yaml.safe_load((render("huggingface", "gitlab") / ".gitlab-ci.yml").read_text())
    assert "extends" not in gitlab["deploy-production"]
    assert any("git-lfs" in line for line in gitlab["deploy-production"]["script"])
