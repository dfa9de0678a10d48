"""A gallery to serve, in-process (FastAPI's test client) or as a real `facerec serve` process."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import DATASET

pytest.importorskip("fastapi", reason="the serve extra is not installed")

from pipeline.server.app import create_app  # noqa: E402
from pipeline.server.jobs import Limits  # noqa: E402
from pipeline.server.run import build_service, close  # noqa: E402
from pipeline.server.security import Keys  # noqa: E402

WRITE_KEY = "write-key-0123456789abcdef"
READ_KEY = "read-key-0123456789abcdef"


def gallery_copy(trained: dict[str, Path], dest: Path) -> dict[str, Path]:
    """The bundled dataset with the session's store and recognizer file beside it, copied
    with their times, so the server's start finds every image unchanged."""
    dataset = dest / "dataset"
    shutil.copytree(DATASET, dataset, ignore=shutil.ignore_patterns("*.md", "*.txt"))
    store, model = dest / "embeddings.db", dest / "recognizer.skops"
    shutil.copy2(trained["store"], store)
    shutil.copy2(trained["model"], model)
    return {"dataset": dataset, "store": store, "model": model}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A `facerec serve` child process on a free port."""

    def __init__(self, paths: dict[str, Path], *extra: str, access_log: bool = False) -> None:
        self.paths, self.extra, self.access_log = paths, extra, access_log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = paths["dataset"].parent / f"serve-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120.0) -> Server:
        env = dict(os.environ, FACEREC_API_KEY=WRITE_KEY, PYTHONUNBUFFERED="1")
        argv = [
            sys.executable,
            "-m",
            "pipeline",
            "serve",
            "--port",
            str(self.port),
            "--dataset",
            str(self.paths["dataset"]),
            "--store",
            str(self.paths["store"]),
            "--model",
            str(self.paths["model"]),
            *self.extra,
            *([] if self.access_log else ["--no-access-log"]),
        ]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(argv, env=env, stdout=log, stderr=log)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited {self.proc.returncode}: {self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/api/v1/ready", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise AssertionError(f"serve not ready in {timeout} s: {self.log.read_text()}")

    def kill(self) -> None:
        """kill -9: no chance to flush or close anything."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
        return int(self.proc.returncode)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"X-API-Key": WRITE_KEY}, timeout=60)


@contextmanager
def running(paths: dict[str, Path], *extra: str) -> Iterator[Server]:
    server = Server(paths, *extra).start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def in_process(
    trained: dict[str, Path] | None,
    recognizer,
    dest: Path,
    limits: Limits,
    debounce: float = 0.3,
    paths: dict[str, Path] | None = None,
) -> Iterator:
    """FastAPI's test client on a server over a copy of the trained gallery (or over `paths`
    as they are; one worker, the session's nets); it sends the write key. `client.service`
    and `client.paths` are there for the test to look behind the API."""
    from fastapi.testclient import TestClient

    if paths is None:
        assert trained is not None
        paths = gallery_copy(trained, dest)
    service, _ = build_service(
        lambda: recognizer,
        paths["dataset"],
        paths["store"],
        paths["model"],
        Keys.of([WRITE_KEY], [READ_KEY]),
        limits,
        workers=1,
        debounce=debounce,
    )
    try:
        with TestClient(create_app(service), headers={"X-API-Key": WRITE_KEY}) as client:
            client.service, client.paths = service, paths  # type: ignore[attr-defined]
            yield client
    finally:
        close(service)
