"""/api/v1 image routes: recognize, verify, find, detect. Each decodes the upload within the
limits and calls the same FaceRecognizer step the CLI and the Python API call; recognize
decides with the live gallery (LiveGallery.decider), so faces enrolled a moment ago count."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, UploadFile

from pipeline.core import FaceRecognizer
from pipeline.server import jobs
from pipeline.server.problems import ApiError
from pipeline.server.service import API, Served, can_read, read_file_field
from pipeline.types import Image, face_id

router = APIRouter(prefix=API, tags=["images"])


@router.post("/recognize", dependencies=[can_read])
async def recognize(
    service: Served,
    file: Annotated[UploadFile | None, File(description="the image")] = None,
    annotate: Annotated[
        bool,
        Query(description="also return the image drawn with boxes and names, as a data: URL"),
    ] = False,
) -> dict[str, Any]:
    """Every face with a name (or "unknown"), as `facerec recognize --json` gives it, and
    which recognizer answered (`by`: the recognizer, or the nearest face enrolled since)."""
    data = await read_file_field(file)
    gallery, limits = service.gallery, service.limits

    def job(r: FaceRecognizer) -> dict[str, Any]:
        image = jobs.read_upload(data, limits)
        decider = gallery.decider()
        faces = jobs.opencv(lambda: r.recognize(image, decider=decider, max_faces=limits.faces))
        h, w = image.shape[:2]
        doc: dict[str, Any] = {
            "faces": [f.to_dict() for f in faces],
            "width": w,
            "height": h,
            "recognizer": {
                "version": decider.trained.version,
                "up_to_date": decider.trained.generation == gallery.snapshot.generation,
            },
        }
        if annotate:
            doc["annotated"] = jobs.annotated(image, faces)
        return doc

    doc = await service.pool.run(job)
    service.metrics.faces.labels("recognize").inc(len(doc["faces"]))
    return doc


def _upload(data: bytes, service: Served, which: str) -> Image:
    try:
        return jobs.read_upload(data, service.limits)
    except ApiError as err:
        err.message = f"the {which} image: {err.message}"
        raise


@router.post("/verify", dependencies=[can_read])
async def verify(
    service: Served,
    a: Annotated[UploadFile | None, File(description="the first image")] = None,
    b: Annotated[UploadFile | None, File(description="the second image")] = None,
    max_distance: Annotated[float | None, Query(ge=0, le=2)] = None,
) -> dict[str, Any]:
    """Same person or not: the main face of each image, by distance (1:1)."""
    data_a, data_b = await read_file_field(a, "a"), await read_file_field(b, "b")
    limit = service.limits.faces

    def job(r: FaceRecognizer) -> dict[str, Any]:
        image_a, image_b = _upload(data_a, service, "first"), _upload(data_b, service, "second")
        return jobs.opencv(lambda: r.verify(image_a, image_b, max_distance, limit)).to_dict()

    doc = await service.pool.run(job)
    service.metrics.faces.labels("verify").inc(2)
    return doc


@router.post("/find", dependencies=[can_read])
async def find(
    service: Served,
    file: Annotated[UploadFile | None, File(description="a photo")] = None,
    k: Annotated[int, Query(ge=1, le=100, description="how many faces")] = 5,
) -> dict[str, Any]:
    """The k enrolled faces nearest to the photo's main face, nearest first."""
    data = await read_file_field(file)
    limits = service.limits

    def job(r: FaceRecognizer) -> Any:
        image = jobs.read_upload(data, limits)
        return jobs.opencv(lambda: r.main_embedding(image, limits.faces))

    face, vector = await service.pool.run(job)
    found = await asyncio.to_thread(service.gallery.nearest, vector, k)
    neighbours = [n.to_dict() | {"id": face_id(n.path, person=n.person)} for n in found]
    service.metrics.faces.labels("find").inc()
    return {"box": face.box_list(), "neighbours": neighbours}


@router.post("/detect", dependencies=[can_read])
async def detect(
    service: Served,
    file: Annotated[UploadFile | None, File(description="the image")] = None,
) -> dict[str, Any]:
    """Every face's box, score and 5 landmarks; no recognizer needed."""
    data = await read_file_field(file)
    limits = service.limits

    def job(r: FaceRecognizer) -> tuple[Image, Any]:
        image = jobs.read_upload(data, limits)
        return image, jobs.opencv(lambda: r.find_faces(image, max_faces=limits.faces))

    image, found = await service.pool.run(job)
    h, w = image.shape[:2]
    faces = [d.to_dict() for d in found]
    service.metrics.faces.labels("detect").inc(len(faces))
    return {"faces": faces, "width": w, "height": h}
