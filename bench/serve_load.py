"""Load on `facerec serve`: requests/s and latency for recognize at 1, 4 and 16 clients, against
the CLI's own images/s on the same photos.

    python bench/serve_load.py [--seconds 60] [--clients 1 4 16] [--workers N] [--json]

- Photos: the repository's 22 full-size photos (dataset/, examples/, the bbt group photos),
  sent in turn; each request uploads one file and gets the faces named.
- The CLI's rate: recognize_images (what `facerec recognize` runs) over the same photos, 3
  times, nets loaded before the clock starts (the server's are loaded at start too).
- The server: `facerec serve` as a child process on a free port (rate limit off), driven by an
  HTTP client (httpx, asyncio) with N connections for `--seconds` each. Client and server share
  the machine's cores, as a camera gateway on the same box would.
- Memory: the server's resident size after a warm-up and at the end of each level, and its
  peak (sampled every 0.5 s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.classify import IdentityClassifier  # noqa: E402
from pipeline.core import FaceRecognizer  # noqa: E402
from pipeline.extract import extract_embeddings  # noqa: E402
from pipeline.recognize import recognize_images  # noqa: E402
from pipeline.stores.sqlite import EmbeddingStore  # noqa: E402
from pipeline.train import train_model  # noqa: E402

KEY = "bench-key-0123456789abcdef"


def photos() -> list[Path]:
    found = sorted((ROOT / "examples").glob("*.jpg")) + sorted((ROOT / "dataset").glob("*/*"))
    found += sorted((ROOT / "tests" / "data" / "bbt").glob("bbt*.jpg"))
    return [p for p in found if p.suffix.lower() in (".jpg", ".jpeg", ".png")]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def prepare(work: Path) -> dict[str, Path]:
    """The bundled dataset extracted and trained into `work` (what the server will serve)."""
    dataset = work / "dataset"
    shutil.copytree(ROOT / "dataset", dataset, ignore=shutil.ignore_patterns("*.md", "*.txt"))
    store, model = work / "embeddings.db", work / "recognizer.skops"
    recognizer = FaceRecognizer.from_models_dir()
    spec = recognizer.embedder.spec
    with EmbeddingStore(store, spec.id, spec.output_dim, recognizer.detector.spec.id) as s:
        extract_embeddings(dataset, s, recognizer)
        train_model(s, model, spec.max_distance, spec.min_probability)
    return {"dataset": dataset, "store": store, "model": model}


def cli_rate(paths: dict[str, Path], images: list[Path], runs: int = 3) -> list[float]:
    """Images/s of recognize_images over the photos, nets loaded beforehand."""
    classifier = IdentityClassifier.load(paths["model"])
    recognizer = FaceRecognizer.from_models_dir(classifier=classifier)
    inputs = [(p, Path(p.name)) for p in images]
    rates = []
    for _ in range(runs):
        start = time.perf_counter()
        n = sum(1 for _ in recognize_images(inputs, recognizer))
        rates.append(n / (time.perf_counter() - start))
    return rates


class Sampler(threading.Thread):
    """The server's peak resident size while a level runs."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            self.stop.wait(0.5)


async def drive(url: str, bodies: list[tuple[str, bytes]], clients: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    turn = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=url, headers={"X-API-Key": KEY}, timeout=120, limits=limits
    ) as client:

        async def one_client() -> None:
            nonlocal turn
            while time.perf_counter() < deadline:
                name, body = bodies[turn % len(bodies)]
                turn += 1
                start = time.perf_counter()
                try:
                    r = await client.post("/api/v1/recognize", files={"file": (name, body)})
                    status = str(r.status_code)
                except httpx.HTTPError as err:
                    status = type(err).__name__
                if status == "200":
                    latencies.append(time.perf_counter() - start)
                else:
                    errors[status] = errors.get(status, 0) + 1

        start = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(clients)))
        elapsed = time.perf_counter() - start
    lat = np.array(latencies) * 1000
    return {
        "clients": clients,
        "requests": len(latencies),
        "errors": errors,
        "requests_per_s": round(len(latencies) / elapsed, 2),
        "p50_ms": round(float(np.percentile(lat, 50)), 1) if len(lat) else None,
        "p95_ms": round(float(np.percentile(lat, 95)), 1) if len(lat) else None,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--workers", type=int, help="server inference workers (default: its own)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    images = photos()
    bodies = [(p.name, p.read_bytes()) for p in images]
    work = Path(tempfile.mkdtemp(prefix="facerec-load-"))
    try:
        paths = prepare(work)
        cli = cli_rate(paths, images)
        port = _free_port()
        argv = [
            sys.executable,
            "-m",
            "pipeline",
            "serve",
            "--port",
            str(port),
            "--rate",
            "0",
            "--dataset",
            str(paths["dataset"]),
            "--store",
            str(paths["store"]),
            "--model",
            str(paths["model"]),
            "--no-access-log",
        ]
        if args.workers:
            argv += ["--workers", str(args.workers)]
        env = dict(os.environ, FACEREC_API_KEY=KEY)
        log = open(work / "serve.log", "wb")  # noqa: SIM115  (closed with the server)
        server = subprocess.Popen(argv, env=env, stdout=log, stderr=log)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(url, server, work / "serve.log")
            asyncio.run(drive(url, bodies, 2, 10))  # warm-up: every photo once or more
            warm = rss_mb(server.pid)
            levels = []
            for clients in args.clients:
                sampler = Sampler(server.pid)
                sampler.start()
                level = asyncio.run(drive(url, bodies, clients, args.seconds))
                sampler.stop.set()
                sampler.join()
                level |= {
                    "rss_end_mb": round(rss_mb(server.pid), 1),
                    "rss_peak_mb": round(sampler.peak, 1),
                }
                levels.append(level)
        finally:
            server.terminate()
            server.wait(60)
            log.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    best_cli = max(cli)
    doc: dict[str, Any] = {
        "photos": len(images),
        "cores": len(os.sched_getaffinity(0)),
        "cli_images_per_s": [round(r, 2) for r in cli],
        "server_rss_after_warmup_mb": round(warm, 1),
        "levels": levels,
        "ratio_to_cli": {lv["clients"]: round(lv["requests_per_s"] / best_cli, 2) for lv in levels},
    }
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    print(f"{len(images)} photos, {doc['cores']} cores")
    print("CLI recognize_images: " + ", ".join(f"{r:.2f}" for r in cli) + " images/s")
    print(f"server resident after warm-up: {warm:.0f} MB")
    print(
        f"{'clients':>7} {'req/s':>7} {'vs CLI':>7} {'p50 ms':>8} {'p95 ms':>8} {'errors':>7} "
        f"{'RSS end':>8} {'peak':>6}"
    )
    for lv in levels:
        print(
            f"{lv['clients']:>7} {lv['requests_per_s']:>7.2f} "
            f"{lv['requests_per_s'] / best_cli:>6.2f}x {lv['p50_ms']:>8} {lv['p95_ms']:>8} "
            f"{sum(lv['errors'].values()):>7} {lv['rss_end_mb']:>7.0f}M {lv['rss_peak_mb']:>5.0f}M"
        )
    return 0


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(url: str, server: subprocess.Popen[bytes], log: Path, timeout: float = 180) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if server.poll() is not None:
            raise SystemExit(f"serve exited: {log.read_text()}")
        try:
            if httpx.get(f"{url}/api/v1/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit("serve was not ready in time")


if __name__ == "__main__":
    sys.exit(main())
