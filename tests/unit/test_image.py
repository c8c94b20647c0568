"""The images' Dockerfile agrees with the package list, the pins and the chart (a static check).

No container engine builds here: Debian has podman and buildah (installable), but every image starts FROM a
base image on a container registry (python:3.11-slim-bookworm), and no container registry can be
reached from this machine, only package registries. So this checks what a build would do, and
tests/integration/test_install.py installs the same build context, non-editable, and runs every
subcommand's --help from it.
"""

from __future__ import annotations

import fnmatch
import re
import subprocess
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def stages() -> dict[str, list[str]]:
    """``{stage name: its instructions}``, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    out: dict[str, list[str]] = {"": []}
    current = ""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line, re.IGNORECASE)
        if match:
            current = match.group(2) or match.group(1)
            out[current] = [line]
        else:
            out[current].append(line)
    return out


def _parent(stage: list[str]) -> str:
    return stage[0].split()[1]


def ignored(rel: str) -> bool:
    """Does .dockerignore keep ``rel`` out of the build context?"""
    patterns = [p.strip() for p in (ROOT / ".dockerignore").read_text().splitlines()
                if p.strip() and not p.startswith("#")]
    parts = rel.split("/")
    for pat in patterns:
        bare = pat.removeprefix("**/")
        if any(fnmatch.fnmatch("/".join(parts[:i + 1]), bare) or fnmatch.fnmatch(parts[i], bare)
               for i in range(len(parts))):
            return True
    return False


def test_two_targets_non_root_with_labels() -> None:
    st = stages()
    assert list(st)[-1] == "cpu", "the default target (the last stage) is the CPU image"
    uid = yaml.safe_load((ROOT / "helm" / "gaitline" / "values.yaml").read_text())["podSecurityContext"]["runAsUser"]
    for target in ("cpu", "cuda"):
        lines = st[target]
        assert _parent(lines) == "runtime"
        assert lines[-1] == f"USER {uid}:{uid}", "numeric, non-root, the chart's runAsUser"
        copies = [line for line in lines if line.startswith("COPY")]
        assert copies == [f"COPY --from=build-{target} /opt/gaitline /opt/gaitline"], copies
    runtime = " ".join(st["runtime"])
    for label in ("title", "version", "revision", "created", "source", "licenses"):
        assert f"org.opencontainers.image.{label}=" in runtime
    assert 'ENTRYPOINT ["gaitline"]' in runtime and "STOPSIGNAL SIGTERM" in runtime
    assert "TORCHINDUCTOR_CACHE_DIR=/tmp/" in runtime    # the chart's read-only root: /tmp is the emptyDir
    assert "useradd --uid 10001 --gid 10001" in " ".join(st["base"])
    base = st[""][0] if st[""] else ""
    python = re.search(r"python:(\d+\.\d+)", base)
    assert python and PYPROJECT["project"]["requires-python"] == f">={python.group(1)}"


def test_every_install_is_pinned_and_from_the_build_context() -> None:
    st = stages()
    assert [line for line in st["source"] if line.startswith("COPY")] == ["COPY . /src"]
    for target in ("build-cpu", "build-cuda"):
        assert _parent(st[target]) == "source"
        installs = [i for line in st[target] for i in line.split("&&") if "pip install" in i]
        assert installs and installs[-1].strip().endswith("-c /src/constraints.txt /src"), installs
        for inst in installs:
            assert "-c /src/constraints.txt" in inst or "grep '^torch==' /src/constraints.txt" in inst, inst
    cpu = " ".join(st["build-cpu"])
    assert "download.pytorch.org/whl/cpu" in cpu and "download.pytorch.org" not in " ".join(st["build-cuda"])
    pins = (ROOT / "constraints.txt").read_text()
    assert re.search(r"^torch==\S+$", pins, re.MULTILINE), "the CPU stage takes torch's pin from constraints.txt"


def test_the_build_context_holds_every_package_and_data_file() -> None:
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    include = [p.rstrip("*") for p in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]]
    data = PYPROJECT["tool"]["setuptools"]["package-data"]
    must = {"pyproject.toml", "constraints.txt", PYPROJECT["project"]["readme"]}
    for rel in files:
        top = rel.split("/")[0]
        if top in include and rel.endswith(".py") and "/tests/" not in rel:
            must.add(rel)
        if top in data and any(fnmatch.fnmatch(rel.split("/", 1)[1], pat) for pat in data[top]):
            must.add(rel)
    assert len(must) > 100
    kept_out = sorted(r for r in must if ignored(r))
    assert kept_out == [], f".dockerignore keeps package files out of the image: {kept_out[:10]}"
    assert ignored("tests/unit/test_image.py") and ignored("helm/gaitline/values.yaml") and ignored(".venv/x")


def test_every_package_folder_is_in_the_package_list() -> None:
    include = {p.rstrip("*") for p in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]}
    folders = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests"}
    assert folders <= include, f"a package folder the image would leave out: {sorted(folders - include)}"


def test_the_chart_runs_this_version() -> None:
    chart = yaml.safe_load((ROOT / "helm" / "gaitline" / "Chart.yaml").read_text())
    assert chart["appVersion"] == PYPROJECT["project"]["version"]
    assert 'ARG VERSION=' + PYPROJECT["project"]["version"] in " ".join(stages()["runtime"])
