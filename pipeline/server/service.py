"""What every route needs: the Service (built once by serve(), reached through the app's
state), the key and rate checks as dependencies, and the small parsers routes share."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, UploadFile
from fastapi.security import APIKeyHeader, HTTPBearer

from pipeline.server.gallery import LiveGallery
from pipeline.server.jobs import Limits
from pipeline.server.problems import ApiError
from pipeline.server.prometheus import Metrics
from pipeline.server.security import READ, WRITE, Keys, RateLimiter, check_name, presented_key
from pipeline.server.snapshot import Face
from pipeline.server.workers import RecognizerPool

API = "/api/v1"
# Module level: FastAPI reads the annotations that name them from the module's globals.
header_key = APIKeyHeader(name="X-API-Key", auto_error=False)
bearer = HTTPBearer(auto_error=False)


@dataclass(slots=True)
class Service:
    """Everything a request needs, built once by serve() (or a test) and passed in."""

    gallery: LiveGallery
    pool: RecognizerPool
    keys: Keys
    limits: Limits
    metrics: Metrics
    limiter: RateLimiter
    ready: bool = True


def service_of(request: Request) -> Service:
    """The Service of the app answering this request (create_app puts it in app.state)."""
    service: Service = request.app.state.service
    return service


def _access(need: str) -> Any:
    def check(
        request: Request,
        x_api_key: Annotated[str | None, Depends(header_key)] = None,
        authorization: Annotated[Any, Depends(bearer)] = None,
    ) -> None:
        service = service_of(request)
        if request.method in ("GET", "HEAD"):  # bodies pass the Gate, which counted them
            service.limiter.check(request.client.host if request.client else "?")
        raw = request.headers.get("authorization")
        service.keys.require(presented_key(x_api_key, raw), need)
        if not service.ready:
            raise ApiError(503, "not_ready", "the server is starting or stopping")

    return Depends(check)


can_read, can_write = _access(READ), _access(WRITE)
Served = Annotated[Service, Depends(service_of)]


def recognizer_json(gallery: LiveGallery) -> dict[str, Any]:
    return {"version": gallery.trained.version, "up_to_date": gallery.up_to_date()}


def person_of(gallery: LiveGallery, name: str) -> str:
    """An enrolled person's name, or the API's 422 (bad name) or 404."""
    check_name(name)
    if name not in gallery.snapshot.people:
        raise ApiError(404, "unknown_person", f"no person named {name!r}")
    return name


def stored_json(face: Face) -> dict[str, Any]:
    return {"id": face.id, "person": face.person, "box": face.box, "score": face.score}


async def read_file_field(upload: UploadFile | None, field: str = "file") -> bytes:
    if upload is None:
        raise ApiError(400, "no_file", f"send the image as a multipart form field named {field!r}")
    return await upload.read()


def parse_box(text: str | None) -> list[float] | None:
    """The `box` form field, "x1,y1,x2,y2", or None when absent."""
    if text is None or text == "":
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if (
        len(values) != 4
        or not all(math.isfinite(v) for v in values)
        or values[2] <= values[0]
        or values[3] <= values[1]
    ):
        raise ApiError(422, "bad_request", "box: four numbers x1,y1,x2,y2 with x2 > x1, y2 > y1")
    return values
