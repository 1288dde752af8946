"""Project-local MariaDB and Redis servers a test starts, freezes, crashes and restarts itself:
loopback only, their own ports and data directories, stopped when the test ends."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

from tests.conftest import free_port


class _Server:
    """One server process whose output is drained to a log by a thread (a full pipe would stall
    it); `start` returns when the server printed its own readiness line, not after a sleep."""

    ready_line = ""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log = workdir / "server.log"

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self, timeout_s: float = 60.0) -> None:
        ready = threading.Event()
        self.proc = subprocess.Popen(
            self.command(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        out = self.proc.stdout

        def drain() -> None:
            with self.log.open("a") as log:
                for line in out:
                    log.write(line)
                    log.flush()
                    if self.ready_line in line:
                        ready.set()

        threading.Thread(target=drain, daemon=True).start()
        if not ready.wait(timeout_s):
            raise RuntimeError(f"{self.command()[0]} not ready in {timeout_s}s: see {self.log}")

    def freeze(self) -> None:
        """SIGSTOP: connections stay open and nothing answers (a stalled server, a GC pause)."""
        os.kill(self.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def crash(self) -> None:
        """SIGKILL: no shutdown, whatever was in flight is lost (the data directory stays)."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.pid, signal.SIGCONT)  # a frozen process dies too, but say it plainly
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


class PrivateRedis(_Server):
    ready_line = "Ready to accept connections"

    def command(self) -> list[str]:
        return [
            shutil.which("redis-server") or "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dir",
            str(self.workdir),
            "--save",
            "",
            "--appendonly",
            "no",
        ]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


class PrivateMariaDB(_Server):
    """A MariaDB on its own data directory: a crash and restart recovers from that data."""

    ready_line = "ready for connections"

    def __init__(self, workdir: Path):
        super().__init__(workdir)
        self.datadir = workdir / "data"

    @staticmethod
    def binary() -> str | None:
        return shutil.which("mariadbd") or shutil.which("mysqld")

    def initialise(self) -> None:
        subprocess.run(  # nosec B603: fixed arguments, our own data directory
            [
                shutil.which("mariadb-install-db") or "mariadb-install-db",
                "--no-defaults",
                f"--datadir={self.datadir}",
                f"--user={_user()}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def command(self) -> list[str]:
        return [
            self.binary() or "mariadbd",
            "--no-defaults",
            f"--datadir={self.datadir}",
            f"--user={_user()}",
            "--bind-address=127.0.0.1",
            f"--port={self.port}",
            f"--socket={self.workdir / 'mysql.sock'}",
            f"--pid-file={self.workdir / 'mysql.pid'}",
            "--skip-log-bin",
            "--innodb-buffer-pool-size=32M",
            "--innodb-log-file-size=16M",
            "--max-connections=200",
        ]

    def start(self, timeout_s: float = 90.0) -> None:
        began = time.monotonic()
        super().start(timeout_s)
        self.last_start_s = time.monotonic() - began

    def url(self, database: str) -> str:
        return f"mysql://root:@127.0.0.1:{self.port}/{database}"


def _user() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name
