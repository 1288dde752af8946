"""Counters on the real clients, for bench/capacity.py: SQL through pymysql, AWS through botocore,
Redis through the server's MONITOR feed, CPU and memory from /proc.

Nothing here is used by the product; the hooks wrap the libraries' own entry points so every
caller (our DB helper, BullMQ's redis connection, boto3's S3 transfer manager) is counted.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path


class Meter:
    """SQL statements/rows and AWS requests/bytes of this process, by kind."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.sql = Counter()  # statement verb -> count
            self.sql_rows = Counter()  # verb -> rows returned or affected
            self.aws = Counter()  # "s3.PutObject" -> count
            self.aws_bytes_out = Counter()  # request bodies sent, per service
            self.aws_bytes_in = Counter()  # response bodies received, per service

    def snapshot(self) -> dict:
        with self.lock:
            return {
                "sql_statements": dict(self.sql),
                "sql_rows": dict(self.sql_rows),
                "aws_requests": dict(self.aws),
                "aws_bytes_out": dict(self.aws_bytes_out),
                "aws_bytes_in": dict(self.aws_bytes_in),
            }

    def install(self) -> None:
        """Wrap pymysql's Cursor.execute and botocore's API call and HTTP send."""
        import botocore.client
        import botocore.endpoint
        import pymysql.cursors

        meter = self
        execute = pymysql.cursors.Cursor.execute

        def counted_execute(cursor, query, args=None):
            rows = execute(cursor, query, args)
            verb = (query.lstrip().split(None, 1) or ["?"])[0].upper()
            with meter.lock:
                meter.sql[verb] += 1
                meter.sql_rows[verb] += rows or 0
            return rows

        pymysql.cursors.Cursor.execute = counted_execute

        make_call = botocore.client.BaseClient._make_api_call

        def counted_call(client, operation, params):
            with meter.lock:
                meter.aws[f"{client.meta.service_model.service_name}.{operation}"] += 1
            return make_call(client, operation, params)

        botocore.client.BaseClient._make_api_call = counted_call

        send = botocore.endpoint.Endpoint._send

        def counted_send(endpoint, request):
            response = send(endpoint, request)
            service = endpoint._endpoint_prefix
            sent = int(request.headers.get("Content-Length") or 0)
            received = int(response.headers.get("Content-Length") or 0)
            with meter.lock:
                meter.aws_bytes_out[service] += sent
                meter.aws_bytes_in[service] += received
            return response

        botocore.endpoint.Endpoint._send = counted_send


# ---- Redis: MONITOR ---------------------------------------------------------------------------
MONITOR_LINE = re.compile(r'^\+\d+\.\d+ \[(\d+) ([^\]]+)\] "([^"]+)"')


class RedisMonitor:
    """Counts the commands run against one Redis db, by command and by client group.

    Commands a Lua script runs (BullMQ's are all scripts) appear as client `lua` right after
    the EVALSHA that ran them, and are counted to that caller too. `owner(port)` names the group
    of a client by its local port (e.g. "worker" or "api").
    """

    def __init__(self, host: str, port: int, db: int, owner) -> None:
        self.db, self.owner = str(db), owner
        self.counts: dict[str, Counter] = defaultdict(Counter)
        self.lock = threading.Lock()
        self.sock = socket.create_connection((host, port), timeout=5)
        self.sock.sendall(b"MONITOR\r\n")
        self.sock.settimeout(None)
        self._stop = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        buf, last_owner = b"", "other"
        while not self._stop:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            *lines, buf = buf.split(b"\r\n")
            for raw in lines:
                match = MONITOR_LINE.match(raw.decode("utf-8", "replace"))
                if not match or match.group(1) != self.db:
                    continue
                client, command = match.group(2), match.group(3).upper()
                if client == "lua":
                    group, command = last_owner, f"lua:{command}"
                else:
                    group = last_owner = self.owner(int(client.rsplit(":", 1)[1]))
                with self.lock:
                    self.counts[group][command] += 1

    def take(self) -> dict[str, dict[str, int]]:
        """The counts so far, reset."""
        time.sleep(0.3)  # MONITOR lags the commands by a few ms
        with self.lock:
            taken = {group: dict(c) for group, c in self.counts.items()}
            self.counts.clear()
        return taken

    def close(self) -> None:
        self._stop = True
        self.sock.close()


def local_ports(pid: int) -> set[int]:
    """The local TCP ports of the sockets process `pid` holds open (from /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


# ---- CPU and memory of a process tree -----------------------------------------------------------
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields from `state` on


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


class TreeSampler:
    """Samples a process tree every `interval` s: cumulative CPU seconds and resident memory.

    CPU = the root's own and reaped children's time, plus the live descendants' own time, so an
    ffmpeg child counts while it runs and after the worker reaps it.
    """

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid, self.interval = pid, interval
        self.samples: list[tuple[float, float, int]] = []  # (wall, cpu s, rss bytes)
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _tree(self) -> list[int]:
        pids, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            pids.append(pid)
            todo += _children(pid)
        return pids

    def _run(self) -> None:
        while not self._stop.is_set():
            cpu, rss = 0.0, 0
            for pid in self._tree():
                fields = _stat(pid)
                if not fields:
                    continue
                utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
                cpu += (utime + stime + (cutime + cstime if pid == self.pid else 0)) / TICK
                rss += int(fields[21]) * PAGE
            self.samples.append((time.time(), cpu, rss))
            self._stop.wait(self.interval)

    def cpu_between(self, start: float, end: float) -> float:
        def at(t: float) -> float:
            before = [cpu for wall, cpu, _ in self.samples if wall <= t]
            return before[-1] if before else 0.0

        return max(0.0, at(end) - at(start))

    def peak_rss_between(self, start: float, end: float) -> int:
        return max((rss for wall, _, rss in self.samples if start <= wall <= end), default=0)

    def stop(self) -> None:
        self._stop.set()
        self.thread.join()
