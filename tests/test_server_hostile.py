"""A hostile client on 127.0.0.1 against a real `facerec serve`: the bounds docs/server.md
states (memory held for bodies, connection and body deadlines, a connection cap, label sets,
logs) hold, and the server goes on answering. Every loop is bounded and local."""

from __future__ import annotations

import asyncio
import re
import socket
import time
from pathlib import Path

import httpx
import pytest

from tests.serverkit import WRITE_KEY, gallery_copy, running

pytestmark = pytest.mark.slow  # a real server, seconds of deliberate waiting

API = "/api/v1"
UPLOAD_LIMIT = 20 << 20


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


@pytest.fixture(scope="module")
def server(trained, tmp_path_factory):
    paths = gallery_copy(trained, tmp_path_factory.mktemp("hostile"))
    (paths["dataset"] / "NOTES.txt").write_text("a file, not a person's folder\n")
    with running(paths, "--rate", "0", "--body-timeout", "3") as s:
        s.client().get(f"{API}/people")  # warm
        yield s


async def _hold_body(port: int, headers: bytes, declared: int, sent: int, hold: float) -> bytes:
    """Open a connection, send headers and `sent` bytes of a `declared`-byte body, and read
    the answer within `hold` seconds (b"" when none came); the server may close the connection
    before the body is sent, which is the point."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /api/v1/recognize HTTP/1.1\r\nHost: x\r\n"
        + headers
        + f"Content-Length: {declared}\r\nContent-Type: application/octet-stream\r\n\r\n".encode()
    )
    try:
        await writer.drain()
        for start in range(0, sent, 1 << 16):
            writer.write(b"\0" * min(1 << 16, sent - start))
            await writer.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass
    try:
        answer = await asyncio.wait_for(reader.read(200), timeout=hold)
    except (asyncio.TimeoutError, ConnectionResetError):
        answer = b""
    writer.close()
    return answer


def test_keyless_uploads_are_refused_before_their_bodies_are_read(server) -> None:
    """100 clients without a key each starting a 19 MB upload: answered 401 on their
    headers, and the server holds none of it (it took 590 MB to 2.6 GB before)."""
    before = rss_mb(server.proc.pid)

    async def flood() -> list[bytes]:  # headers only: the answer must come without the body
        return await asyncio.gather(
            *(_hold_body(server.port, b"", 19 << 20, 0, 10.0) for _ in range(100))
        )

    answers = asyncio.run(flood())
    assert all(a.startswith(b"HTTP/1.1 401") for a in answers), answers[:2]
    assert rss_mb(server.proc.pid) - before < 50
    assert server.client().get(f"{API}/health").status_code == 200


def test_keyed_uploads_at_once_are_held_within_the_budget(server) -> None:
    """With a key, bodies are read, but never more than three full uploads at once (60 MB):
    while three 19 MB uploads are under way, the next ones are told to retry (503), and a
    dozen full uploads at once leave the server's memory within its bound."""
    key = f"X-API-Key: {WRITE_KEY}\r\n".encode()

    async def holders_then_more() -> tuple[list[bytes], list[bytes]]:
        held = [
            asyncio.create_task(_hold_body(server.port, key, 19 << 20, 1 << 20, 10.0))
            for _ in range(3)
        ]
        await asyncio.sleep(1.0)  # their headers are in: 57 MB claimed
        more = await asyncio.gather(
            *(_hold_body(server.port, key, 19 << 20, 0, 5.0) for _ in range(6))
        )
        return list(more), list(await asyncio.gather(*held))

    more, held = asyncio.run(holders_then_more())
    assert all(a.startswith(b"HTTP/1.1 503") for a in more), [a[:20] for a in more]
    assert all(a.startswith(b"HTTP/1.1 408") for a in held), [a[:20] for a in held]  # stalled

    before, peak = rss_mb(server.proc.pid), 0.0

    async def flood() -> None:
        nonlocal peak
        tasks = [
            asyncio.create_task(_hold_body(server.port, key, 19 << 20, 19 << 20, 15.0))
            for _ in range(12)
        ]
        while not all(t.done() for t in tasks):
            peak = max(peak, rss_mb(server.proc.pid))
            await asyncio.sleep(0.05)

    asyncio.run(flood())
    assert peak - before < 250  # 3 bodies, their parsed copies, the image decoded
    assert server.client().get(f"{API}/health").status_code == 200


def test_a_half_sent_body_is_not_waited_for(server) -> None:
    """Content-Length says 1,000 bytes, 10 arrive: 408 after --body-timeout (3 s here)."""
    key = f"X-API-Key: {WRITE_KEY}\r\n".encode()
    start = time.monotonic()
    answer = asyncio.run(_hold_body(server.port, key, 1000, 10, 30.0))
    assert answer.startswith(b"HTTP/1.1 408") and time.monotonic() - start < 10


def test_idle_and_half_sent_connections_are_closed_and_capped(server) -> None:
    """400 connections that send nothing, or half a request line: the server closes the ones
    over its cap (256) at once (the oldest idle first) and the rest after 10 s, answering
    /health all along."""
    idle = []
    for n in range(400):
        sock = socket.create_connection(("127.0.0.1", server.port))
        if n % 2:
            sock.sendall(b"GET /api/v1/hea")
        idle.append(sock)
    assert httpx.get(f"{server.url}{API}/health", timeout=5).status_code == 200
    deadline = time.monotonic() + 20
    open_ones = list(idle)
    while open_ones and time.monotonic() < deadline:
        still = []
        for sock in open_ones:
            sock.settimeout(0.01)
            try:
                if sock.recv(1) == b"":
                    sock.close()
                    continue
            except (TimeoutError, BlockingIOError):
                pass
            except OSError:
                sock.close()
                continue
            still.append(sock)
        open_ones = still
        time.sleep(0.2)
    for sock in open_ones:
        sock.close()
    assert open_ones == []
    log = server.log.read_text()
    assert log.count("Too many open files") == 0 and log.count("connections closed") <= 2


def test_made_up_methods_do_not_grow_the_metrics(server) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for n in range(200):
            client.request(f"FAKE{n}", f"{API}/health")
        text = client.get("/metrics", headers={"X-API-Key": WRITE_KEY}).text
    assert "FAKE" not in text and 'method="other"' in text
    assert len(re.findall(r"^facerec_http_requests_total\{", text, re.M)) < 30


def test_names_that_cannot_be_folders_are_4xx(server) -> None:
    with server.client() as client:
        long = client.post(f"{API}/people", json={"name": "\u00e9" * 99 + "x" * 1})
        assert long.status_code == 201  # 100 characters, 199 bytes: a folder can hold it
        over = client.post(f"{API}/people", json={"name": "\U0001f600" * 64})
        assert over.status_code == 422 and over.json()["error"] == "bad_name"
        taken = client.post(f"{API}/people", json={"name": "NOTES.txt"})
        assert taken.status_code == 409 and taken.json()["error"] == "name_taken"
        photo = (Path(__file__).parent.parent / "examples" / "obama1.jpg").read_bytes()
        enrol = client.post(f"{API}/people/NOTES.txt/faces", files={"file": ("o.jpg", photo)})
        assert enrol.status_code == 409


def test_forwarded_addresses_do_not_escape_the_rate_limit(trained, tmp_path) -> None:
    """X-Forwarded-For is believed only from --trusted-proxy; without one, a local client
    that varies it is still one client."""
    paths = gallery_copy(trained, tmp_path)
    with running(paths, "--rate", "2") as s, httpx.Client(base_url=s.url, timeout=10) as c:
        codes = [
            c.get(
                f"{API}/people", headers={"X-API-Key": WRITE_KEY, "X-Forwarded-For": f"10.0.0.{n}"}
            ).status_code
            for n in range(12)
        ]
    assert 429 in codes


def test_a_key_in_the_query_string_is_not_logged(trained, tmp_path) -> None:
    """A key sent in the URL is refused (keys go in headers), and the access log shows the
    parameter blanked, not the key."""
    from tests.serverkit import Server

    server = Server(gallery_copy(trained, tmp_path), access_log=True).start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as c:
            assert c.get(f"{API}/people?api_key=SECRET-VALUE-0123456789&k=1").status_code == 401
    finally:
        server.stop()
    text = server.log.read_text()
    assert "SECRET-VALUE" not in text and "api_key=REDACTED&k=1" in text


def test_a_jpeg_scan_bomb_does_not_take_a_worker(server) -> None:
    """Two 1.3 MB uploads that would each keep a decoder busy for minutes: refused at once
    (400), and the workers answer the next request."""
    from faultkit import jpeg_scan_bomb

    bomb = jpeg_scan_bomb(7000, 7000, 100_000)
    photo = (Path(__file__).parent.parent / "examples" / "obama1.jpg").read_bytes()
    with server.client() as client:
        for _ in range(2):
            r = client.post(f"{API}/recognize", files={"file": ("b.jpg", bomb)})
            assert r.status_code == 400 and "decoding bomb" in r.json()["message"]
        named = client.post(f"{API}/recognize", files={"file": ("o.jpg", photo)}, timeout=10)
        assert [f["name"] for f in named.json()["faces"]] == ["obama"]
