"""/api/v1/audit: the dataset's wrong, duplicate and poor photos, as `facerec audit --json`
gives them, from what the live gallery holds (the server keeps its store in step itself)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from pipeline.core import FaceRecognizer
from pipeline.server import jobs
from pipeline.server.service import API, Served, can_read

router = APIRouter(prefix=API, tags=["dataset"])


@router.get("/audit", dependencies=[can_read])
async def audit(service: Served) -> dict[str, Any]:
    """Photos that look like someone else, the same photo twice or under two people, group
    photos whose kept face is someone else, faces too small or turned, people too alike, and
    people whose photos spread into several looks. Reads the gallery; changes nothing."""
    from pipeline.audit.run import audit_store
    from pipeline.stores import open_store

    gallery = service.gallery

    def job(r: FaceRecognizer) -> dict[str, Any]:
        spec = r.embedder.spec
        with open_store(gallery.store_path, spec.id, spec.output_dim, writer=False) as store:
            return jobs.opencv(lambda: audit_store(gallery.dataset, store, r)).to_dict()

    return await service.pool.run(job)
