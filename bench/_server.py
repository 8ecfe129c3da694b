"""The real server for benchmarks and the tests that need one: gunicorn serving
`server:create_app()` on a loopback port, in a subprocess that imports this tree.

Shared by bench/sync.py, bench/queue.py, bench/load.py and the crash and two-instance tests
(a helper, not a benchmark: CI's loop over bench/*.py skips names starting with `_`).
"""
from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret-key-that-is-long-enough-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port: int, method: str, path: str, body: dict | None = None, token: str | None = None,
            timeout: float = 120, headers: dict | None = None, raw: bytes | None = None):
    """One request on a new connection (gunicorn's sync workers close it anyway); answers
    (status, body bytes). `raw` sends bytes as they are (with `headers` naming their type)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    hdrs = {"Content-Type": "application/json"} if body is not None else {}
    hdrs.update(headers or {})
    if token:
        hdrs["Authorization"] = f"Bearer {token}"
    data = raw if raw is not None else (json.dumps(body) if body is not None else None)
    try:
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def server_env(url: str, data_dir: Path, secret: str = SECRET, **settings) -> dict:
    """The environment of a server process: this tree first on the path, the database, the data
    dir and the secret, and any other FIELDCHECK_* settings given by their short names."""
    path = os.environ.get("PYTHONPATH")
    env = {**os.environ, "PYTHONPATH": str(ROOT) + (os.pathsep + path if path else ""),
           "FIELDCHECK_DATABASE_URL": url, "FIELDCHECK_DATA_DIR": str(data_dir), "FIELDCHECK_SECRET_KEY": secret}
    env.update({f"FIELDCHECK_{k}": str(v) for k, v in settings.items() if v is not None})
    return env


class Server:
    """gunicorn on 127.0.0.1:`port` (a free one unless given), `workers` sync workers, the argv
    of `fieldcheck serve` without the access log. `start()` waits for /api/health."""

    def __init__(self, url: str, data_dir: Path, *, workers: int = 1, port: int | None = None,
                 timeout_s: int | None = 300, secret: str = SECRET, **settings):
        self.url, self.data_dir, self.workers = url, Path(data_dir), workers
        self.port = port or free_port()
        self.timeout_s = timeout_s
        self.env = server_env(url, data_dir, secret, **settings)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # gunicorn's own log goes to a file: a pipe nobody reads would fill and stall the server.
        self.log_path = self.data_dir / f"gunicorn-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    def argv(self) -> list[str]:
        argv = [sys.executable, "-m", "gunicorn", "--workers", str(self.workers), "--bind",
                f"127.0.0.1:{self.port}", "--graceful-timeout", "10", "--no-control-socket",
                "--config", "python:server.gunicorn_conf"]
        if self.timeout_s:
            argv += ["--timeout", str(self.timeout_s)]
        return argv + ["server:create_app()"]

    def start(self, wait_s: float = 120) -> "Server":
        # A new session: SIGKILL of the group takes the master and its workers at once, as a
        # power cut or the OOM killer would.
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.argv(), cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL,
                                         stderr=log, start_new_session=True)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            try:
                status, _ = request(self.port, "GET", "/api/health", timeout=10)
                if status == 200:
                    return self
            except OSError:
                time.sleep(0.2)
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn stopped (exit {self.proc.returncode}): {self.log_tail()}")
        self.kill()
        raise RuntimeError(f"gunicorn did not answer /api/health within {wait_s:.0f} s")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill(self) -> None:
        """SIGKILL the master and every worker (its process group): nothing gets to clean up."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM: gunicorn finishes the requests in flight, then exits."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return ""

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def worker_cpu_s(self) -> float:
        """CPU seconds (user + system) used so far by gunicorn's workers (the master's children)."""
        total = 0.0
        tick = os.sysconf("SC_CLK_TCK")
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.pid:  # ppid
                total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        return total


def multipart(fields: dict, file_bytes: bytes, filename: str = "photo.jpg",
              content_type: str = "image/jpeg") -> tuple[bytes, dict]:
    """A multipart/form-data body as a browser's FormData makes it: one part per field and the
    `file` part. Answers the body and its Content-Type header."""
    boundary = "----fieldcheck" + os.urandom(12).hex()
    out = bytearray()
    for name, value in fields.items():
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").encode()
    out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
            f"Content-Type: {content_type}\r\n\r\n").encode()
    out += file_bytes + f"\r\n--{boundary}--\r\n".encode()
    return bytes(out), {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def upload_photo(port: int, token: str, photo_id: str, data: bytes, finding_id: str,
                 captured_at: str, timeout: float = 120):
    """PUT /api/photos/<id> as the phone sends it; answers (status, body bytes)."""
    import hashlib

    body, headers = multipart({"finding_id": finding_id, "sha256": hashlib.sha256(data).hexdigest(),
                               "captured_at": captured_at}, data)
    return request(port, "PUT", f"/api/photos/{photo_id}", token=token, headers=headers, raw=body, timeout=timeout)


def login(port: int, username: str, password: str) -> str:
    status, data = request(port, "POST", "/api/auth/token", {"username": username, "password": password})
    if status != 201:
        raise RuntimeError(f"login as {username}: {status} {data[:300]!r}")
    return json.loads(data)["token"]
