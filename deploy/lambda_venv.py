"""Build the virtualenv zappa packages from: the Lambda runtime's Python, with wheels Lambda can load.

zappa copies the *active virtualenv's* site-packages into the package, so that virtualenv must hold what
the Lambda runtime can import: CPython 3.12 extension modules (`cp312`) built for glibc <= 2.34 (Amazon
Linux 2023, the python3.12 runtime's OS). A virtualenv made with `pip install` on a newer Linux may pick
wheels for a newer glibc; this installs the project's dependencies with explicit platform tags instead, so
the result is right whatever machine builds it. zappa itself is then installed normally (it only runs here).

    python -m deploy.lambda_venv --python python3.12 .lambda-venv
    VIRTUAL_ENV=$PWD/.lambda-venv PATH=$PWD/.lambda-venv/bin:$PATH zappa package production
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
LAMBDA_PYTHON = "3.12"
LAMBDA_GLIBC_MINOR = 34  # Amazon Linux 2023 ships glibc 2.34
# pip does not widen an explicit --platform to older manylinux versions: list every one Lambda accepts.
PLATFORM_TAGS = tuple(f"manylinux_2_{minor}_x86_64" for minor in range(5, LAMBDA_GLIBC_MINOR + 1)) + (
    "manylinux2014_x86_64",
    "manylinux2010_x86_64",
    "manylinux1_x86_64",
)
MARKER = "dms-lambda-venv.json"


def project_requirements(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """The runtime dependencies of the project (not its dev extras): what the Lambda package needs."""
    with open(pyproject, "rb") as handle:
        return list(tomllib.load(handle)["project"]["dependencies"])


def zappa_requirement() -> str:
    """zappa pinned to the version this environment has, so package and deploy use the same one."""
    try:
        return f"zappa=={metadata.version('zappa')}"
    except metadata.PackageNotFoundError:
        return "zappa"


def build_fingerprint(python: str, requirements: Sequence[str], zappa: str) -> str:
    """What the virtualenv depends on; an unchanged fingerprint means an existing build can be reused."""
    text = json.dumps(
        {"python": python, "requirements": list(requirements), "zappa": zappa, "tags": PLATFORM_TAGS}
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def site_packages(venv: Path) -> Path:
    """The site-packages folder zappa reads (lib/pythonX.Y/site-packages)."""
    return venv / "lib" / f"python{LAMBDA_PYTHON}" / "site-packages"


def build_lambda_venv(
    venv: Path, python: str = "python3.12", requirements: Sequence[str] | None = None
) -> Path:
    """Create (or reuse, when its fingerprint matches) a Lambda-compatible virtualenv at `venv`."""
    interpreter = shutil.which(python) or python
    version = subprocess.run(
        [interpreter, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    if version != LAMBDA_PYTHON:
        raise SystemExit(f"{interpreter} is Python {version}; the Lambda runtime is python{LAMBDA_PYTHON}.")
    requirements = list(requirements if requirements is not None else project_requirements())
    zappa = zappa_requirement()
    fingerprint = build_fingerprint(version, requirements, zappa)
    marker = venv / MARKER
    if marker.exists() and json.loads(marker.read_text()).get("fingerprint") == fingerprint:
        log.info("lambda venv reused venv=%s fingerprint=%s", venv, fingerprint)
        return venv
    if venv.exists():
        shutil.rmtree(venv)
    subprocess.run([interpreter, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "--quiet"]
    platform_args = [arg for tag in PLATFORM_TAGS for arg in ("--platform", tag)]
    subprocess.run(
        [
            *pip,
            "install",
            "--only-binary=:all:",
            *platform_args,
            "--python-version",
            LAMBDA_PYTHON,
            "--implementation",
            "cp",
            "--target",
            str(site_packages(venv)),
            "--upgrade",
            *requirements,
        ],
        check=True,
    )
    # zappa runs only on the build machine; its dependencies reuse what is already there where they can.
    subprocess.run([*pip, "install", zappa], check=True)
    marker.write_text(json.dumps({"fingerprint": fingerprint, "requirements": requirements, "zappa": zappa}))
    log.info("lambda venv built venv=%s fingerprint=%s", venv, fingerprint)
    return venv


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: build the virtualenv and say how to use it."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
    parser = argparse.ArgumentParser(
        prog="python -m deploy.lambda_venv", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("venv", type=Path, help="where to create it, e.g. .lambda-venv")
    parser.add_argument("--python", default="python3.12", help="a CPython 3.12 interpreter")
    args = parser.parse_args(argv)
    venv = build_lambda_venv(args.venv.resolve(), args.python)
    sys.stdout.write(f"VIRTUAL_ENV={venv} PATH={venv}/bin:$PATH zappa package production\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
