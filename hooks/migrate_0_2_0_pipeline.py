"""Migration to copier-mlops 0.2.0: `src/<package>/pipeline.py` becomes template-owned.

Up to 0.1.0 the pipeline was user-owned and `copier update` never touched it. From 0.2.0
the template owns it (it calls only `build_model` in the user's `model.py`) and updates
it like any other template-owned file. Copier runs this script from `_migrations` in
copier.yml, in the project's root, when an update crosses 0.2.0:

    python migrate_0_2_0_pipeline.py before ANSWERS_FILE
    python migrate_0_2_0_pipeline.py after ANSWERS_FILE

`before` (ahead of the merge): a pipeline.py still exactly as 0.1.0 generated it is
removed, so the update writes the 0.2.0 version in its place with no conflict. A pipeline.py
the team changed is moved to `pipeline.py.before-v0.2.0`, so the update writes the new
version beside it and nothing the team wrote is lost or buried in conflict markers.
`after`: the removed path is unstaged again (git shows the pipeline as modified, not
deleted), and when a copy was kept the exact steps to carry the team's changes over are
printed. Both steps are idempotent: a second run changes nothing.
"""

import hashlib
import subprocess
import sys
from pathlib import Path

from migration import MigrationError, read_answers, run

# sha256 of src/<package>/pipeline.py as copier-mlops 0.1.0 generated it (the file has no
# Jinja, so it is the same for every answer).
V0_1_0_SHA256 = "01c991de3fdae9a54a5655b3d924b0fd970f360da6b94341f8f56e8ec3078261"
BACKUP_SUFFIX = ".before-v0.2.0"


def digest(path: Path) -> str:
    """sha256 of a text file, with Windows line endings read as Unix ones."""
    return hashlib.sha256(path.read_bytes().replace(b"\r\n", b"\n")).hexdigest()


def git(*arguments: str) -> None:
    subprocess.run(["git", *arguments], check=True, capture_output=True, text=True)


def tracked_in_head(path: Path) -> bool:
    completed = subprocess.run(
        ["git", "cat-file", "-e", f"HEAD:{path.as_posix()}"], capture_output=True, check=False
    )
    return completed.returncode == 0


def before(pipeline: Path) -> str:
    """Clear the way for the template's pipeline.py; keep a changed one beside it."""
    backup = pipeline.with_name(pipeline.name + BACKUP_SUFFIX)
    if not pipeline.is_file():
        return f"{pipeline}: nothing to migrate (already migrated, or removed by the team)"
    if digest(pipeline) == V0_1_0_SHA256:
        pipeline.unlink()
        git("rm", "--quiet", "--cached", "--ignore-unmatch", "--", str(pipeline))
        return f"{pipeline}: unchanged since 0.1.0, replaced by the 0.2.0 version"
    if backup.exists() and backup.read_bytes() != pipeline.read_bytes():
        raise MigrationError(
            f"{backup} already exists and differs from {pipeline}: move it out of the way "
            "(or delete it once its changes are carried over), then update again"
        )
    backup.write_bytes(pipeline.read_bytes())
    pipeline.unlink()
    git("add", "--all", "--", str(pipeline), str(backup))
    return f"{pipeline}: changed by the team, kept as {backup}"


def after(pipeline: Path) -> str:
    """Show the pipeline as modified, and say what to do with a kept copy."""
    backup = pipeline.with_name(pipeline.name + BACKUP_SUFFIX)
    if pipeline.is_file() and tracked_in_head(pipeline):
        # `before` staged the removal; the update has written the new file in its place.
        git("reset", "--quiet", "--", str(pipeline))
    # From 0.4.0 the template's pipeline is in the package's core/.
    moved = pipeline.parent / "core" / pipeline.name
    current = moved if not pipeline.is_file() and moved.is_file() else pipeline
    if not backup.is_file():
        return f"{current} is now owned by the template: later updates keep it current."
    return "\n".join(
        [
            f"{current} is now owned by the template; the update wrote its new version.",
            f"Your changed pipeline is kept as {backup}.",
            "To carry your changes over:",
            f"  1. git diff --no-index {backup} {current}",
            "  2. Move model changes into build_model() in model.py and feature changes",
            "     into features.py: the template's pipeline calls only those, so later",
            "     updates keep your work without conflicts.",
            f"  3. git rm -f {backup}",
            "  4. make golden-update  (the code changed, so the golden fingerprint moved),",
            "     then make all and commit.",
        ]
    )


def migrate(stage: str, answers_file: Path) -> str:
    pipeline = Path("src") / read_answers(answers_file)["package_name"] / "pipeline.py"
    return before(pipeline) if stage == "before" else after(pipeline)


if __name__ == "__main__":
    sys.exit(run("0.2.0", Path(__file__).name, sys.argv[1:], migrate, "ANSWERS_FILE"))
