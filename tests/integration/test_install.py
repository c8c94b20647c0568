"""A non-editable install, as the image makes it, runs every subcommand.

The image copies the build context less `.dockerignore` and runs `pip install` on it; this test
builds the same filtered tree, installs it without `-e` into a fresh virtual environment (the
dependencies come from the development environment through a path file, so nothing is
downloaded), and runs `gaitline <every subcommand> --help` from outside the checkout. A package
or a package-data file missing from pyproject.toml's lists fails here, not in a cluster.
"""

from __future__ import annotations

import fnmatch
import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import typer.main

from gaitline.cli.main import app

ROOT = Path(__file__).resolve().parents[2]


def _ignored(rel: str, patterns: list[str]) -> bool:
    parts = rel.split("/")
    for pat in patterns:
        bare = pat.removeprefix("**/")
        if fnmatch.fnmatch(rel, bare) or any(fnmatch.fnmatch(p, bare) for p in parts) \
                or any(fnmatch.fnmatch("/".join(parts[:i + 1]), bare) for i in range(len(parts))):
            return True
    return False


def _context(dest: Path) -> Path:
    """The Docker build context: tracked and untracked files of the checkout, less .dockerignore."""
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split("\n")
    for rel in filter(None, files):
        if _ignored(rel, patterns) or not (ROOT / rel).is_file():
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, dest / rel)
    return dest


def _commands(cmd: object, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path under ``cmd`` (typer ships its own click: groups are known by ``commands``)."""
    out = [path]
    subs = getattr(cmd, "commands", None)
    if isinstance(subs, dict):
        for name, sub in subs.items():
            out += _commands(sub, (*path, name))
    return out


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with gaitline installed non-editable from the image's build context."""
    tmp = tmp_path_factory.mktemp("install")
    ctx = _context(tmp / "context")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python3*/site-packages"))
    # the development environment's packages, but not its editable gaitline (a .pth line adds a
    # folder to sys.path without running that folder's own .pth files, the editable finder among them)
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # pip and setuptools come through that path too; run by the new interpreter, pip installs into
    # the new environment and writes its console script for it
    # --ignore-installed: the development environment's own gaitline is visible through that path, and
    # pip would otherwise uninstall it before installing this one
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-deps",
                    "--ignore-installed", "--no-build-isolation", str(ctx)], check=True, cwd=tmp)
    return venv


def test_the_installed_package_is_the_one_that_runs(installed: Path, tmp_path: Path) -> None:
    code = "import api, gaitline, index, store, streams, workers; print(gaitline.__file__, api.__file__)"
    proc = subprocess.run([str(installed / "bin" / "python"), "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert all(p.startswith(str(installed)) for p in proc.stdout.split()), proc.stdout


_HELP_ALL = """
import json, sys
from typer.testing import CliRunner
from gaitline.cli.main import app
failed = []
for path in json.loads(sys.argv[1]):
    res = CliRunner().invoke(app, [*path, "--help"])
    if res.exit_code != 0 or "Usage" not in res.output:
        failed.append(f"gaitline {' '.join(path)} --help: exit {res.exit_code}: {res.output[-300:]} {res.exception!r}")
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


def test_every_subcommand_answers_help_from_a_non_editable_install(installed: Path, tmp_path: Path) -> None:
    paths = _commands(typer.main.get_command(app))
    assert ("api", "serve") in paths and ("worker", "frames") in paths and ("bench", "embed") in paths
    # the console script itself, for the command the chart's API Deployment runs
    proc = subprocess.run([str(installed / "bin" / "gaitline"), "api", "serve", "--help"], capture_output=True,
                          text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0 and "Usage" in proc.stdout, proc.stderr
    # and every other one, in one process of the installed interpreter
    proc = subprocess.run([str(installed / "bin" / "python"), "-c", _HELP_ALL, json.dumps(paths)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_development_install_is_left_alone(installed: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "pip", "show", "gaitline"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and str(ROOT) in proc.stdout, proc.stdout + proc.stderr


def test_package_data_is_installed(installed: Path, tmp_path: Path) -> None:
    code = ("from gait.model.calibration import CHECKPOINT_DIR; from configs.schema import NETWORKS_DIR; "
            "import api.server as s; from store.db import Store; from store.migrate import current, head; "
            "st = Store('sqlite:///' + __import__('os').path.abspath('m.db')); "
            "print((CHECKPOINT_DIR / 'default.pt').is_file(), (NETWORKS_DIR / 'vtest.yaml').is_file(), "
            "(s.STATIC / 'index.html').is_file(), current(st.engine) == head())")
    proc = subprocess.run([str(installed / "bin" / "python"), "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "True", "True", "True"]  # the store's migrations came along


# What the Dockerfile does with that context (stages, constraints, user): tests/unit/test_image.py
