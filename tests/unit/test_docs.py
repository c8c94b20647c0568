"""The docs stay true: the settings reference is the code's, every command they show exists, and the
layout rules docs/architecture.md states hold. Fast: nothing here loads a model or starts a process."""

from __future__ import annotations

import ast
import functools
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer
from pydantic import Field, SecretStr

from gaitline.cli.main import app
from gaitline.settings_reference import SETTINGS_CLASSES, cli_env_options, env_names, load, render
from streams.settings import KafkaSettings

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "gait" / "checkpoints" / "README.md"]
REGENERATE = ".venv/bin/python -m gaitline.settings_reference > docs/settings.md"


# --- the settings reference ------------------------------------------------------------------


def test_settings_reference_is_generated_from_the_code() -> None:
    on_disk = (ROOT / "docs" / "settings.md").read_text()
    assert on_disk == render(), f"docs/settings.md is out of date: regenerate it with `{REGENERATE}`"


def test_reference_names_every_field_of_every_settings_class() -> None:
    text = render()
    for path in SETTINGS_CLASSES:
        cls = load(path)
        for name, field in cls.model_fields.items():
            for env in env_names(cls, name, field):
                assert f"`{env}`" in text, f"{path}.{name}"


def test_a_new_field_changes_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    class Extended(KafkaSettings):
        linger_ms: int = Field(5, ge=0, description="how long the producer waits; env GAITLINE_KAFKA_LINGER_MS")

    import streams.settings

    before = render()
    monkeypatch.setattr(streams.settings, "KafkaSettings", Extended)
    after = render()
    assert after != before and "`GAITLINE_KAFKA_LINGER_MS`" in after


def test_secret_defaults_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    class WithSecret(KafkaSettings):
        token: SecretStr = Field(SecretStr("hunter2-do-not-print"), description="a credential")

    import streams.settings

    monkeypatch.setattr(streams.settings, "KafkaSettings", WithSecret)
    text = render()
    assert "hunter2" not in text and "`GAITLINE_KAFKA_TOKEN`" in text


def test_the_options_read_from_the_environment_are_the_commands_own() -> None:
    # the reference reads them from the source (it may not import the command line): check each row
    rows = cli_env_options()
    assert rows, "no command option reads an environment variable any more?"
    for env, option, _, _ in rows:
        words = option.split()[1:]
        assert check_command(words) is None, option
        cmd = root_command()
        for word in words[:-1]:
            cmd = cmd.commands[word]
        (param,) = [p for p in cmd.params if words[-1] in p.opts]
        assert env in ([param.envvar] if isinstance(param.envvar, str) else list(param.envvar or [])), option


# --- every command the docs show exists --------------------------------------------------------

_PREFIXES = ("gaitline", ".venv/bin/gaitline")
_ENV_ASSIGNMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=")
_SHELL_STOP = {"|", "||", "&", "&&", ";", ">", ">>", "<", "2>", "2>&1"}


def fenced_lines(text: str) -> list[str]:
    """The lines inside fenced code blocks, continuation lines (``\\``) joined."""
    out: list[str] = []
    inside, pending = False, ""
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            inside, pending = not inside, ""
            continue
        if not inside:
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        out.append(pending + line)
        pending = ""
    return out


def commands_in(text: str) -> list[list[str]]:
    """Each ``gaitline ...`` command of a fenced block as its words after ``gaitline``, without the
    comment, the environment assignments before it, and the shell plumbing after it."""
    found = []
    for line in fenced_lines(text):
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            continue  # not shell (JSON, a diagram)
        while words and _ENV_ASSIGNMENT.match(words[0]):
            words = words[1:]
        if not words or words[0] not in _PREFIXES:
            continue
        args = []
        for word in words[1:]:
            if word in _SHELL_STOP or word.startswith((">", "|")):
                break
            args.append(word)
        found.append(args)
    return found


@functools.cache
def root_command() -> Any:
    """``gaitline`` as click sees it (typer may bring its own click: the objects are duck-typed)."""
    return typer.main.get_command(app)


def check_command(args: list[str]) -> str | None:
    """Why ``gaitline ARGS`` is not a real command, or None when it is."""
    cmd = root_command()
    path = ["gaitline"]
    rest = list(args)
    while hasattr(cmd, "commands") and rest and not rest[0].startswith("-"):
        name = rest.pop(0)
        sub = cmd.commands.get(name)
        if sub is None:
            return f"{' '.join(path)} has no command {name!r} (it has: {', '.join(sorted(cmd.commands))})"
        cmd, path = sub, [*path, name]
    if hasattr(cmd, "commands") and "--help" not in rest:
        return f"{' '.join(path)} needs a subcommand (one of: {', '.join(sorted(cmd.commands))})"
    known = {"--help"} | {opt for p in cmd.params for opt in (*p.opts, *p.secondary_opts)}
    for word in rest:
        option = word.split("=", 1)[0]
        if option.startswith("--") and option not in known:
            return f"{' '.join(path)} has no option {option}"
    return None


def test_the_command_parser_sees_what_a_reader_would_type() -> None:
    text = """
```sh
gaitline kafka start    # a comment --not-an-option
.venv/bin/gaitline worker embed &
GAITLINE_BROKER_SECURE_PORT=9094 gaitline kafka start
gaitline eval gait --dataset d \\
    --model default --json
helm template x | kubectl apply -f -
```
gaitline outside a block --is-not-checked
"""
    assert commands_in(text) == [["kafka", "start"], ["worker", "embed"], ["kafka", "start"],
                                 ["eval", "gait", "--dataset", "d", "--model", "default", "--json"]]


def test_the_command_check_catches_a_wrong_command_and_a_wrong_option() -> None:
    assert check_command(["eval", "gait", "--dataset", "d", "--json"]) is None
    assert check_command(["api", "serve", "--no-kafka"]) is None
    assert "no command 'no-such-protocol'" in (check_command(["eval", "no-such-protocol"]) or "")
    assert check_command(["eval", "real", "--dataset", "d", "--folds", "2", "--json"]) is None
    assert "no option --no-such-option" in (check_command(["demo", "--no-such-option"]) or "")
    assert "needs a subcommand" in (check_command(["kafka"]) or "")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_command_in_the_docs_exists(doc: Path) -> None:
    problems = [f"gaitline {' '.join(args)}: {why}" for args in commands_in(doc.read_text())
                if (why := check_command(args))]
    assert not problems, f"{doc.relative_to(ROOT)}:\n" + "\n".join(problems)


def test_the_docs_show_commands_at_all() -> None:
    assert sum(len(commands_in(d.read_text())) for d in DOCS) > 30


# --- the dependency rules of docs/architecture.md ----------------------------------------------

PACKAGES = ("gaitline", "streams", "workers", "index", "store", "gait", "sim", "api", "configs")


def imported_roots(path: Path) -> set[str]:
    """Top-level names of every module ``path`` imports, at any depth of the file."""
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def _files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_only_streams_imports_the_kafka_clients() -> None:
    offenders = [str(f.relative_to(ROOT)) for pkg in PACKAGES if pkg != "streams" for f in _files(pkg)
                 if imported_roots(f) & {"kafka", "aiokafka", "faust"}]
    assert not offenders


def test_index_does_not_import_workers() -> None:
    assert not [str(f.relative_to(ROOT)) for f in _files("index") if "workers" in imported_roots(f)]


def test_gait_imports_the_pipeline_only_from_evaluation() -> None:
    offenders = [str(f.relative_to(ROOT)) for f in _files("gait")
                 if "evaluation" not in f.relative_to(ROOT / "gait").parts
                 and imported_roots(f) & {"workers", "api", "sim"}]
    assert not offenders
