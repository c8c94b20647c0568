"""The house rules of the layout, checked on the source: who may import whom, and module size.

Rules (docs/architecture.md): Kafka client libraries are imported in ``streams/`` only; the
identity service does not depend on the stages; the science imports stages, the API and the
simulator only from its evaluation room; libraries never import the command line; no module
grows past 500 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("gaitline", "streams", "workers", "index", "store", "gait", "sim", "api", "configs", "bench")


def _modules() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth of the file (lazy imports count too)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module)
    return out


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _offenders(where: str, forbidden: tuple[str, ...], except_under: tuple[str, ...] = ()) -> list[str]:
    bad = []
    for path in _modules():
        rel = _rel(path)
        if not rel.startswith(where) or rel.startswith(except_under):
            continue
        hits = sorted(m for m in _imports(path) if m.split(".")[0] in forbidden or m in forbidden
                      or any(m.startswith(f + ".") for f in forbidden))
        if hits:
            bad.append(f"{rel}: {', '.join(hits)}")
    return bad


def test_the_package_list_is_the_installed_one() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    assert all(f'"{pkg}*"' in text for pkg in PACKAGES), "a package folder is missing from pyproject.toml"


def test_only_streams_imports_kafka_clients() -> None:
    assert _offenders("", ("kafka", "aiokafka", "faust"), except_under=("streams/",)) == []


def test_the_identity_service_does_not_import_the_stages() -> None:
    assert _offenders("index/", ("workers",)) == []


def test_the_science_imports_stages_api_and_simulator_only_to_evaluate() -> None:
    assert _offenders("gait/", ("workers", "api", "sim"), except_under=("gait/evaluation/",)) == []


def test_libraries_do_not_import_the_command_line() -> None:
    # the benchmarks drive the product as a user would, so they may run its commands
    entry = ("gaitline/cli/", "gaitline/__main__.py", "bench/")
    assert _offenders("", ("gaitline.cli",), except_under=entry) == []


@pytest.mark.parametrize("limit", [500])
def test_no_module_over_500_lines(limit: int) -> None:
    long = [f"{_rel(p)}: {n}" for p in _modules() if (n := len(p.read_text().splitlines())) > limit]
    assert long == []


def test_the_rules_see_a_violation(tmp_path: Path) -> None:
    # the checker itself: a lazy import inside a function is an import too
    probe = tmp_path / "m.py"
    probe.write_text("def f():\n    from kafka import KafkaProducer\n    import workers.frames.cameras\n")
    assert {"kafka", "workers.frames.cameras"} <= _imports(probe)
