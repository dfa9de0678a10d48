"""Liveness, readiness, Prometheus metrics, and the web page at /."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, JSONResponse, Response

from pipeline.server.service import API, Served, can_read, recognizer_json

STATIC = Path(__file__).resolve().parent.parent / "static"
# The page's own policy: scripts and styles from this server only, images also as data: and
# blob: URLs (thumbnails, the camera), nothing sent anywhere else.
PAGE_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)

router = APIRouter(tags=["operations"])


@router.get(f"{API}/health")
async def health() -> dict[str, str]:
    """The process answers (liveness)."""
    return {"status": "ok"}


@router.get(f"{API}/ready", responses={503: {"description": "not ready"}})
async def ready(service: Served) -> JSONResponse:
    """The models are loaded and the gallery open (readiness)."""
    snap = service.gallery.snapshot
    doc = {
        "ready": service.ready,
        "faces": len(snap.faces),
        "people": len(snap.people),
        "recognizer": recognizer_json(service.gallery),
        "workers": service.pool.size,
    }
    return JSONResponse(doc, status_code=200 if service.ready else 503)


@router.get(
    "/metrics",
    dependencies=[can_read],
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
)
async def prometheus(service: Served) -> Response:
    """Prometheus text format: requests, latency, faces, the recognizer in use."""
    gallery, metrics = service.gallery, service.metrics
    snap, trained = gallery.snapshot, gallery.trained
    metrics.gallery_faces.set(len(snap.faces))
    metrics.people.set(len(snap.people))
    metrics.model.clear()
    first = service.pool.first
    metrics.model.labels(trained.version, first.embedder.spec.id, first.detector.spec.id).set(1)
    metrics.up_to_date.set(1 if gallery.up_to_date() else 0)
    metrics.refits.set(gallery.refits)
    return Response(metrics.render(), media_type="text/plain; version=0.0.4")


@router.get("/", include_in_schema=False)
async def page() -> FileResponse:
    return FileResponse(
        STATIC / "index.html",
        headers={
            "Content-Security-Policy": PAGE_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
        },
    )
