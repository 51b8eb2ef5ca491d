"""Regenerate the pictures of docs/monitoring.md from a freshly generated default project.

    python3 -m uv run scripts/pictures.py [--keep DIR]

Generates the default project, installs it (`uv sync`), trains it three times (C=0.1,
C=10, then the shipped C=1.0, so the history plot has runs to compare and the model in
use is the default one), writes a deliberately shifted batch `recent.csv` (alcohol +1.0,
colour intensity x1.5, no labels) and runs `<package> report recent.csv`. The PNG files
it writes to reports/monitoring/ are reduced to a 64-colour palette and copied to
docs/images/monitoring/.
"""

import argparse
import csv
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.helpers import DEFAULT_NAME, ROOT, generate, git_commit_all

IMAGES = ROOT / "docs" / "images" / "monitoring"
PLOTS = ["history", "features", "predictions", "confusion"]
ENV = {**os.environ, "VIRTUAL_ENV": "", "PYTHONDONTWRITEBYTECODE": "", "NO_COLOR": "1"}
SHRINK = """
import sys
from PIL import Image
for path in sys.argv[1:]:
    Image.open(path).convert("RGB").quantize(colors=64).save(path, optimize=True)
"""


def sh(*command: str, cwd: Path, **env: str) -> None:
    print("$", *(f"{name}={value}" for name, value in env.items()), *command[:4], flush=True)
    done = subprocess.run(command, cwd=cwd, env={**ENV, **env}, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(command[:4])} exited {done.returncode}\n{done.stderr}")


def shifted_batch(golden: Path, destination: Path) -> Path:
    """The golden records with two features moved and the label column dropped."""
    with golden.open(newline="") as source:
        rows = list(csv.DictReader(source))
    columns = [name for name in rows[0] if name != "cultivar"]
    with destination.open("w", newline="") as target:
        writer = csv.DictWriter(target, columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            row["alcohol"] = f"{float(row['alcohol']) + 1.0:.2f}"
            row["color_intensity"] = f"{float(row['color_intensity']) * 1.5:.2f}"
            writer.writerow(row)
    return destination


def make_pictures(project: Path) -> list[Path]:
    generate(project)
    git_commit_all(project, "generated")
    package = DEFAULT_NAME.lower().replace(" ", "_")
    prefix = package.upper() + "_"
    sh("uv", "sync", "--quiet", cwd=project)
    for c in ("0.1", "10", None):
        overrides = {f"{prefix}MODEL__C": c} if c else {}
        sh("uv", "run", package, "train", cwd=project, **overrides)
    batch = shifted_batch(project / "data" / "golden" / "wine.csv", project / "recent.csv")
    sh("uv", "run", package, "report", batch.name, cwd=project)
    plots = [project / "reports" / "monitoring" / f"{name}.png" for name in PLOTS]
    sh("uv", "run", "python", "-c", SHRINK, *map(str, plots), cwd=project)
    IMAGES.mkdir(parents=True, exist_ok=True)
    copied = []
    for plot in plots:
        target = IMAGES / plot.name
        target.write_bytes(plot.read_bytes())
        copied.append(target)
        print(f"wrote {target.relative_to(ROOT)} ({target.stat().st_size // 1024} KiB)")
    return copied


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="generate the project here and keep it")
    arguments = parser.parse_args()
    if arguments.keep:
        make_pictures(arguments.keep.resolve())
    else:
        with tempfile.TemporaryDirectory(prefix="copier-mlops-pictures-") as scratch:
            make_pictures(Path(scratch) / "wine-quality")
    return 0


if __name__ == "__main__":
    sys.exit(main())
