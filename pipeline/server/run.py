"""Build the server's parts once and run it under uvicorn."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.core import FaceRecognizer
from pipeline.errors import FaceRecError
from pipeline.server.app import Service, create_app
from pipeline.server.gallery import LiveGallery
from pipeline.server.jobs import Limits
from pipeline.server.prometheus import Metrics
from pipeline.server.security import Keys, RateLimiter
from pipeline.server.workers import RecognizerPool

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class KeySetup:
    """The keys in force and, when none was given, the one made up for this run."""

    keys: Keys
    generated: str | None


def key_setup(write: str | None, read: str | None, open_reads: bool) -> KeySetup:
    """Keys from the options, else FACEREC_API_KEY / FACEREC_READ_KEY; without a write key a
    random one is made for this run (writes always need a key)."""
    write = write or os.environ.get("FACEREC_API_KEY") or None
    read = read or os.environ.get("FACEREC_READ_KEY") or None
    generated = None
    if write is None:
        write = generated = secrets.token_urlsafe(24)
    if len(write) < 16 or (read is not None and len(read) < 16):
        raise FaceRecError(
            "an API key needs at least 16 characters (python -c "
            "'import secrets; print(secrets.token_urlsafe(24))' makes one)"
        )
    return KeySetup(Keys.of([write], [read] if read else [], open_reads), generated)


def build_service(
    make_recognizer: Callable[[], FaceRecognizer],
    dataset: str | os.PathLike[str],
    store: str | os.PathLike[str],
    model: str | os.PathLike[str],
    keys: Keys,
    limits: Limits,
    workers: int,
    debounce: float = 2.0,
    progress: Callable[[Iterable[Any], int], Iterable[Any]] | None = None,
) -> tuple[Service, Any]:
    """The nets (once per worker), the gallery brought in step with the dataset, and the rest.
    Returns the Service and the startup extraction's report."""
    pool = RecognizerPool(make_recognizer, workers)
    try:
        gallery, report = LiveGallery.open(dataset, store, model, pool.first, debounce, progress)
    except BaseException:
        pool.close()
        raise
    service = Service(
        gallery, pool, keys, limits, Metrics(), RateLimiter(limits.rate, limits.burst)
    )
    return service, report


def close(service: Service) -> None:
    service.ready = False
    service.gallery.close()
    service.pool.close()


def run(
    service: Service,
    host: str,
    port: int,
    access_log: bool = True,
    trusted_proxies: Sequence[str] | None = None,
) -> None:
    """Serve until SIGINT or SIGTERM (uvicorn finishes the requests in flight first).

    X-Forwarded-For is believed only from `trusted_proxies`: uvicorn believes it from
    127.0.0.1 by default, which let any local client pick the address the rate limit counts."""
    import uvicorn

    from pipeline.server.connections import guarded_protocol, raise_open_file_limit

    raise_open_file_limit()
    app = create_app(service)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="info",
        access_log=access_log,
        timeout_graceful_shutdown=10,
        server_header=False,
        http=guarded_protocol(),
        log_config=log_config(),
        timeout_keep_alive=5,
        proxy_headers=bool(trusted_proxies),
        forwarded_allow_ips=",".join(trusted_proxies or []) or None,
    )


def log_config() -> dict[str, Any]:
    """uvicorn's logging, with API keys blanked out of the access log's request lines."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_keys"] = {"()": "pipeline.server.security.RedactKeys"}
    config["handlers"]["access"]["filters"] = ["redact_keys"]
    return config


def page_url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    shown = f"[{shown}]" if ":" in shown else shown
    return f"http://{shown}:{port}/"


def dataset_path(path: str) -> Path:
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise FaceRecError(f"{p}: not a folder (the dataset is <dataset>/<person>/*.jpg)")
    return p
