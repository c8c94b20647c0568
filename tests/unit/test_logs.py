"""Logs: JSON lines with the stage, camera and record coordinates when asked; the level setting; --version."""

from __future__ import annotations

import json
import logging

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from gaitline import __version__, logs
from gaitline.cli.main import app


@pytest.fixture()
def restore_root() -> object:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_carry_stage_camera_and_record(capsys: pytest.CaptureFixture[str], restore_root: object,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAITLINE_LOG_FORMAT", "json")
    monkeypatch.setenv("GAITLINE_LOG_LEVEL", "INFO")
    logs.configure(stage=logs.stage_of(["worker", "embed"]))
    log = logging.getLogger("streams.agents")
    log.debug("not written at INFO")
    log.warning("dead-lettering %s", "a window", extra=logs.coordinates("tracklets.v1", 3, 1042, b"cam1/7",
                                                                        camera="cam1"))
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("failed")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert len(lines) == 2
    first = lines[0]
    assert first["message"] == "dead-lettering a window" and first["level"] == "WARNING"
    assert {k: first[k] for k in ("stage", "camera", "topic", "partition", "offset", "key")} == {
        "stage": "embed", "camera": "cam1", "topic": "tracklets.v1", "partition": 3, "offset": 1042, "key": "cam1/7"}
    assert first["ts"].endswith("+00:00") and first["logger"] == "streams.agents"
    assert "RuntimeError: boom" in lines[1]["exc"] and lines[1]["stage"] == "embed"


def test_text_is_the_default(capsys: pytest.CaptureFixture[str], restore_root: object,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GAITLINE_LOG_FORMAT", raising=False)
    monkeypatch.delenv("GAITLINE_LOG_LEVEL", raising=False)
    settings = logs.configure(stage="track")
    assert settings.format == "text" and settings.level == "WARNING"
    logging.getLogger("workers.track").info("quiet")
    logging.getLogger("workers.track").warning("store slow")
    err = capsys.readouterr().err
    assert "quiet" not in err and "WARNING [track] workers.track: store slow" in err
    with pytest.raises(json.JSONDecodeError):
        json.loads(err.splitlines()[0])


def test_a_bad_setting_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAITLINE_LOG_FORMAT", "xml")
    with pytest.raises(ValidationError):
        logs.LogSettings()


@pytest.mark.parametrize(("argv", "stage"), [(["worker", "frames", "--network", "x"], "frames"),
                                             (["api", "serve"], "api"), (["demo"], None), ([], None)])
def test_the_stage_comes_from_the_command(argv: list[str], stage: str | None) -> None:
    assert logs.stage_of(argv) == stage


def test_version() -> None:
    out = CliRunner().invoke(app, ["--version"])
    assert out.exit_code == 0 and out.output.strip() == f"gaitline {__version__}"


def test_a_dead_letter_is_logged_with_the_record_s_coordinates(caplog) -> None:  # type: ignore[no-untyped-def]
    import logging

    from streams.agents import Record, dead_letter_output

    with caplog.at_level(logging.WARNING, logger="streams.agents"):
        dead_letter_output("embed", Record(b"cam/7", b"x", "tracklets.v1", 3, 1234), "undecodable")
    (rec,) = [r for r in caplog.records if "dead-lettering" in r.getMessage()]
    assert (rec.topic, rec.partition, rec.offset, rec.key) == ("tracklets.v1", 3, 1234, "cam/7")  # type: ignore[attr-defined]
