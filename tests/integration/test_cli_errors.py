"""Bad input on the command line: one line on stderr, exit code 2, no traceback, from a real `gaitline` process."""

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def gaitline(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gaitline", *args], capture_output=True, text=True,
                          timeout=120, env=env)


def _one_line_error(proc: subprocess.CompletedProcess, needle: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and needle in lines[0], proc.stderr


def test_missing_video(tmp_path: Path):
    _one_line_error(gaitline("demo", "--video", str(tmp_path / "nope.avi")), "cannot read video")


def test_unreadable_video(tmp_path: Path):
    bad = tmp_path / "bad.avi"
    bad.write_bytes(b"this is not a video")
    _one_line_error(gaitline("demo", "--video", str(bad)), "cannot read video")


def test_invalid_network_config(tmp_path: Path):
    cfg = tmp_path / "net.yaml"
    cfg.write_text("version: 1\nname: x\ncameras:\n  - id: a\n    source: a.avi\n    region: r\n    fps: 5\n"
                   "    zoom: 3\n")
    _one_line_error(gaitline("worker", "frames", "--network", str(cfg)), f"{cfg}:8: cameras.0.zoom: unknown key")


def test_unknown_camera_id():
    _one_line_error(gaitline("worker", "frames", "--network", "vtest", "--camera", "nowhere"),
                    "unknown camera id 'nowhere'")


def test_unknown_identity_and_empty_store(tmp_path: Path):
    from store.db import Store

    url = f"sqlite:///{tmp_path}/s.db"
    why = ("--reason", "case 42")
    _one_line_error(gaitline("query", "where", "--identity", "p-000", "--store", url, *why), "holds no sightings yet")
    Store(url).close()
    _one_line_error(gaitline("query", "where", "--identity", "p-000", "--store", url, *why),
                    "no sightings of identity 'p-000'")
    # a search without a reason is refused before anything is read
    _one_line_error(gaitline("query", "where", "--identity", "p-000", "--store", url, "--reason", " "),
                    "--reason must say why")
    assert gaitline("query", "where", "--identity", "p-000", "--store", url).returncode == 2
    # the search that found nothing is in the audit log, the refused one is not
    log = Store(url).audit_log()
    assert [(r.action, r.subject, r.reason) for r in log] == [("query.where", "p-000", "case 42")]


@pytest.mark.parametrize("args", [("demo", "--inject-malformed", "-1"), ("nonsense",)])
def test_usage_errors_exit_2(args):
    proc = gaitline(*args)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_invalid_setting_from_environment(tmp_path: Path):
    import os

    env = {**os.environ, "GAITLINE_EMBED_MAX_BATCH": "lots"}
    _one_line_error(gaitline("worker", "embed", env=env), "invalid EmbedSettings setting max_batch")


def test_the_pose_model_leaves_no_deprecation_noise_on_stderr(tmp_path: Path):
    from .clips import vtest_clip

    clip = vtest_clip(tmp_path / "clip.avi", 40)
    proc = gaitline("analyze", str(clip), "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "report.json").is_file()
    # mediapipe's protobuf deprecation warning is nothing a user can act on
    assert "GetPrototype" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
