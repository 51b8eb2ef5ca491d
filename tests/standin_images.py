"""Stand-ins for the base images a generated Dockerfile names, built on this machine.

No container registry is reachable here, so the slow tier builds what each `FROM` names
under that exact name, for the template's tests only (never pushed, never shipped):

- `python:<X.Y.Z>-slim-<debian>`: a debootstrap of that Debian release with its own
  Python X.Y (the patch release is Debian's: bookworm has 3.11.2 for 3.11.13), linked as
  /usr/local/bin/python3 where the official image has it;
- `ghcr.io/astral-sh/uv:<version>`: a scratch image holding `/uv` and `/uvx` from the
  PyPI wheel of that uv release, as the official image does.

Outbound TLS is intercepted on these machines, so the Python stand-in carries the host's
CA bundle as SSL_CERT_FILE; the generated Dockerfile stays as a real runner builds it.
Other Python minors and the PyTorch variants need packages Debian or this machine lack:
only a real runner builds those (docs/architecture.md)."""

import hashlib
import json
import platform
import re
import shutil
import subprocess
import tempfile
import urllib.request
import zipfile
from pathlib import Path

from tests.helpers import run

LABEL = 'org.opencontainers.image.description="copier-mlops test stand-in, not for use"'
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
PYTHON = re.compile(r"^python:(?P<minor>3\.\d+)\.\d+-slim-(?P<debian>[a-z]+)$")
UV = re.compile(r"^ghcr\.io/astral-sh/uv:(?P<version>\d+\.\d+\.\d+)$")
MIRROR = "http://deb.debian.org/debian"


def base_images(dockerfile: Path) -> list[str]:
    """The images the Dockerfile's FROM lines pull (not its own earlier stages)."""
    stages: set[str] = set()
    images: list[str] = []
    for line in dockerfile.read_text().splitlines():
        words = line.split()
        if len(words) < 2 or words[0].upper() != "FROM":
            continue
        image = next(word for word in words[1:] if not word.startswith("--"))
        if image not in stages and image not in images:
            images.append(image)
        if len(words) >= 4 and words[-2].upper() == "AS":
            stages.add(words[-1])
    return images


def build_base_images(dockerfile: Path, podman: str) -> None:
    """Build a stand-in for every base image `dockerfile` names that is not yet here."""
    for image in base_images(dockerfile):
        qualified = f"docker.io/library/{image}" if "/" not in image.split(":")[0] else image
        exists = subprocess.run([podman, "image", "exists", qualified], check=False)
        if exists.returncode == 0:
            continue
        with tempfile.TemporaryDirectory(prefix="standin-") as work:
            if match := PYTHON.match(image):
                _python_image(qualified, match["minor"], match["debian"], Path(work), podman)
            elif match := UV.match(image):
                _uv_image(qualified, match["version"], Path(work), podman)
            else:
                raise AssertionError(f"no stand-in is known for the base image {image}")


def _python_image(name: str, minor: str, debian: str, work: Path, podman: str) -> None:
    rootfs = work / "rootfs"
    debootstrap = shutil.which("debootstrap") or "/usr/sbin/debootstrap"
    run(
        debootstrap, "--variant=minbase", f"--include=python{minor},ca-certificates",
        debian, str(rootfs), MIRROR, cwd=work, timeout=600,
    )  # fmt: skip
    for link in ("python3", "python"):
        (rootfs / "usr/local/bin" / link).symlink_to(f"/usr/bin/python{minor}")
    shutil.copyfile(HOST_CA_BUNDLE, rootfs / "usr/local/share/host-ca-certificates.crt")
    shutil.rmtree(rootfs / "var/lib/apt/lists")
    for package in (rootfs / "var/cache/apt/archives").glob("*.deb"):
        package.unlink()
    archive = work / "rootfs.tar"
    run("tar", "-C", str(rootfs), "-cf", str(archive), ".", cwd=work)
    changes = [
        "ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
        "ENV LANG=C.UTF-8",
        "ENV SSL_CERT_FILE=/usr/local/share/host-ca-certificates.crt",
        f"LABEL {LABEL}",
        'CMD ["python3"]',
    ]
    flags = [flag for change in changes for flag in ("--change", change)]
    run(podman, "import", *flags, str(archive), name, cwd=work)


def _uv_image(name: str, version: str, work: Path, podman: str) -> None:
    wheel = _uv_wheel(version, work)
    context = work / "context"
    context.mkdir()
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            if "/scripts/" in member and Path(member).name in ("uv", "uvx"):
                binary = context / Path(member).name
                binary.write_bytes(archive.read(member))
                binary.chmod(0o755)
    (context / "Containerfile").write_text(f"FROM scratch\nLABEL {LABEL}\nCOPY uv uvx /\n")
    run(
        podman, "build", "--isolation", "chroot", "--pull=never", "--format", "docker",
        "--tag", name, str(context), cwd=work,
    )  # fmt: skip


def _uv_wheel(version: str, work: Path) -> Path:
    """The PyPI wheel of uv `version` for this machine, checked against its sha256."""
    index = urllib.request.Request(
        "https://pypi.org/simple/uv/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    with urllib.request.urlopen(index, timeout=60) as page:
        files = json.load(page)["files"]
    machine = platform.machine()
    filename = f"uv-{version}-py3-none-manylinux_2_17_{machine}.manylinux2014_{machine}.whl"
    wanted = next(entry for entry in files if entry["filename"] == filename)
    with urllib.request.urlopen(wanted["url"], timeout=300) as response:
        content = response.read()
    assert hashlib.sha256(content).hexdigest() == wanted["hashes"]["sha256"], filename
    wheel = work / filename
    wheel.write_bytes(content)
    return wheel
