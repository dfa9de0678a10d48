"""serve: the HTTP API and web page over the live gallery."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pipeline.cli.common import (
    load_recognizer,
    progress,
)
from pipeline.cli.options import (
    model_options,
    number,
    recognizer_option,
    store_option,
)
from pipeline.errors import Terminated


def add(sub: Any) -> None:
    p = sub.add_parser("serve", help="HTTP API and web page: recognize, enrol, learn as it runs")
    model_options(p)
    p.add_argument(
        "-d",
        "--dataset",
        default="dataset",
        help="dataset/<person>/*.jpg: brought in step at start; enrolled photos go there",
    )
    store_option(p)
    recognizer_option(p, "the recognizer file, refitted as people are enrolled")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (0.0.0.0: every interface; put TLS in front)",
    )
    p.add_argument(
        "--port", type=number(1, 65535, "a port", integer=True), default=8000, help="TCP port"
    )
    _access_options(p)
    _limit_options(p)
    p.set_defaults(func=run)


def _access_options(p: argparse.ArgumentParser) -> None:
    """Who may call the API, and through what."""
    p.add_argument(
        "--api-key",
        dest="api_key",
        help="key for every request (default: $FACEREC_API_KEY, else a new one is "
        "printed); prefer the variable, options show in ps",
    )
    p.add_argument(
        "--read-key", dest="read_key", help="key that may only read (default: $FACEREC_READ_KEY)"
    )
    p.add_argument(
        "--open-reads",
        action="store_true",
        help="reads (recognize, find, lists) need no key; writes still do",
    )


def _limit_options(p: argparse.ArgumentParser) -> None:
    """What one request, one client and the whole server may take."""
    p.add_argument(
        "--workers",
        type=number(1, 64, "a worker count", integer=True),
        help="inference workers, each with its own nets (default: one per core)",
    )
    p.add_argument(
        "--max-upload-mb",
        type=number(1, 1024, "megabytes"),
        default=20,
        help="largest request body",
    )
    p.add_argument(
        "--max-faces",
        type=number(1, 10000, "a face count", integer=True),
        default=50,
        help="most faces per image",
    )
    p.add_argument(
        "--rate",
        type=number(0, 1e6, "requests a second"),
        default=10,
        help="requests a second per client address, bursts of twice that; 0: no limit",
    )
    p.add_argument(
        "--refit-after",
        dest="debounce",
        type=number(0, 3600, "seconds"),
        default=2.0,
        help="refit the recognizer once enrolments are quiet this long",
    )
    p.add_argument(
        "--no-access-log", dest="access_log", action="store_false", help="do not log each request"
    )
    p.add_argument(
        "--body-timeout",
        dest="body_seconds",
        type=number(1, 3600, "seconds"),
        default=30.0,
        help="a request's body must arrive within this (else 408)",
    )
    p.add_argument(
        "--trusted-proxy",
        dest="trusted_proxies",
        action="append",
        metavar="ADDRESS",
        help="a reverse proxy whose X-Forwarded-For names the client (repeatable); "
        "without one, the header is ignored: any client could forge it",
    )


def run(args: argparse.Namespace) -> int:
    from pipeline.extras import require

    require("serve", "facerec serve")  # before anything imports fastapi
    from pipeline.server.jobs import Limits
    from pipeline.server.run import build_service, close, dataset_path, key_setup, page_url, run
    from pipeline.server.workers import default_workers

    setup = key_setup(args.api_key, args.read_key, args.open_reads)
    limits = Limits(
        upload_bytes=int(args.max_upload_mb * (1 << 20)),
        faces=args.max_faces,
        rate=args.rate,
        burst=max(1, int(2 * args.rate)),
        body_seconds=args.body_seconds,
    )
    service, report = build_service(
        lambda: load_recognizer(args, with_model=False, store=args.store),
        dataset_path(args.dataset),
        args.store,
        args.model,
        setup.keys,
        limits,
        args.workers or default_workers(),
        args.debounce,
        progress("embedding"),
    )
    snap, trained = service.gallery.snapshot, service.gallery.trained
    state = "up to date" if service.gallery.up_to_date() else "refitting now"
    url = page_url(args.host, args.port)
    lines = [
        f"gallery: {len(snap.faces)} faces of {len(snap.people)} people ({report.embedded} "
        f"embedded now, {len(report.skipped)} skipped); recognizer {trained.version} ({state})",
        f"serving {url} with {service.pool.size} workers; API docs at {url}docs",
    ]
    if setup.generated:
        lines.append(
            f"API key for this run (set FACEREC_API_KEY to choose one): open "
            f"{url}#key={setup.generated}"
        )
    print("\n".join(lines), file=sys.stderr, flush=True)
    try:
        run(service, args.host, args.port, args.access_log, args.trusted_proxies)
    except Terminated:  # SIGTERM after uvicorn's own shutdown: a normal stop for a server
        pass
    finally:
        close(service)
    return 0
