"""The HTTP API (FastAPI, under /api/v1) and the web page at /, over one Service.

Routes (routes/) stay thin: the key and the rate are checked by dependencies and the Gate
middleware, the image work runs on the inference pool through the core's FaceRecognizer, the
changes go to the live gallery's writer thread, and the results render themselves (to_dict),
so the JSON is the CLI's.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from pipeline.server.problems import install
from pipeline.server.prometheus import MetricsMiddleware
from pipeline.server.routes import dataset, images, operations, people
from pipeline.server.security import Gate
from pipeline.server.service import API, Service
from pipeline.version import version


def create_app(service: Service) -> FastAPI:
    """The ASGI application for one Service: the API, /metrics, the page, the docs."""
    from fastapi_offline import FastAPIOffline

    app = FastAPIOffline(
        title="facerec",
        version=version(),
        description="Offline face recognition: enrol people, name faces in photos. Send the API "
        "key as `X-API-Key` or `Authorization: Bearer`.",
    )
    app.state.service = service
    install(app)
    for routes in (people, images, dataset, operations):
        app.include_router(routes.router)
    app.mount("/static", StaticFiles(directory=operations.STATIC), name="static")
    limits = service.limits
    app.add_middleware(
        Gate,
        keys=service.keys,
        limiter=service.limiter,
        limit=limits.upload_bytes,
        budget=limits.in_flight_bytes,
        body_seconds=limits.body_seconds,
        writes=lambda method, path: path.startswith(f"{API}/people"),
    )
    app.add_middleware(MetricsMiddleware, metrics=service.metrics)
    return app


__all__ = ["Service", "create_app"]
