"""A throwaway PostgreSQL cluster of the machine's Debian binaries, that a bench or a test may stop,
kill and restart without touching anyone else's database (``gaitline bench faults``, the delivery tests).

As root (PostgreSQL refuses to run as root) the cluster runs as the ``postgres`` user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from gaitline.errors import GaitlineError


def _pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name)
                   if p.parent.name.isdigit() else 0)
    if not found:
        raise GaitlineError("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin)")
    return found[-1]


def free_port() -> int:
    """A TCP port nobody listens on right now (on 127.0.0.1)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivatePostgres:
    """A PostgreSQL cluster in ``folder`` listening on 127.0.0.1:``port`` (trust auth, database ``gaitline``).

    Args:
        folder: where its data, socket and log live (created; removed by :meth:`destroy`); default a new
            folder under the system's temporary folder (the server's user must reach it: a pytest
            ``tmp_path`` is private to root).
        port: its port (default: a free one).
    """

    def __init__(self, folder: Path | None = None, port: int | None = None) -> None:
        self.folder = folder or Path(tempfile.mkdtemp(prefix="gaitline-pg-"))
        self.port = port or free_port()
        self.data = self.folder / "data"
        self.bin = _pg_bin()
        self._as: list[str] = []
        if os.geteuid() == 0:
            self._as = ["runuser", "-u", "postgres", "--"]

    @property
    def url(self) -> str:
        """Its SQLAlchemy URL."""
        return f"postgresql://gaitline@127.0.0.1:{self.port}/gaitline"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        res = subprocess.run([*self._as, *args], capture_output=True, text=True, timeout=120)
        if check and res.returncode != 0:
            raise GaitlineError(f"{Path(args[0]).name} failed: {(res.stderr or res.stdout).strip()[-300:]}")
        return res

    def init(self) -> PrivatePostgres:
        """Create the cluster and its database, and start it."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if self._as:
            pw = pwd.getpwnam("postgres")
            os.chown(self.folder, pw.pw_uid, pw.pw_gid)
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "gaitline", "--auth=trust", "-N")
        self.start()
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "gaitline", "gaitline")
        return self

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "log"), "-w", "-t", "60",
                  "-o", f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; ``mode="immediate"`` is a crash (no shutdown checkpoint)."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def running(self) -> bool:
        """Whether the server runs."""
        return self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "status", check=False).returncode == 0

    def restart(self, down_s: float = 0.0, mode: str = "immediate") -> None:
        """Crash-stop it, stay down ``down_s`` seconds, start again."""
        self.stop(mode)
        time.sleep(down_s)
        self.start()

    def destroy(self) -> None:
        """Stop it and remove its folder."""
        if self.data.exists():
            self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)
