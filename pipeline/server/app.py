"""The HTTP API (FastAPI, under /api/v1) and the web page at /, over one LiveGallery.

Routes stay thin: they check the key and the rate, hand the image work to the inference pool
(jobs.py) and the changes to the gallery's writer thread, and shape the JSON. The CLI's own
field names are kept (`name`, `probability`, `distance`, `candidate`, `box`).
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import APIKeyHeader, HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from pipeline.imageio import read_image
from pipeline.server import jobs
from pipeline.server.gallery import Face, LiveGallery, face_id
from pipeline.server.jobs import Limits
from pipeline.server.problems import ApiError, install
from pipeline.server.prometheus import Metrics, MetricsMiddleware
from pipeline.server.security import READ, WRITE, Gate, Keys, RateLimiter, check_name, presented_key
from pipeline.server.workers import RecognizerPool
from pipeline.types import RecognizedFace
from pipeline.vectors import pairwise_distances
from pipeline.version import version

STATIC = Path(__file__).parent / "static"
API = "/api/v1"
# The page's own policy: scripts and styles from this server only, images also as data: and
# blob: URLs (thumbnails, the camera), nothing sent anywhere else.
PAGE_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
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


class PersonIn(BaseModel):
    name: str = Field(
        description="the person's name, 1-100 characters; it names their folder, so "
        "no / \\ or control characters",
        examples=["ada_lovelace"],
    )


def _face_json(face: RecognizedFace, by: str) -> dict[str, Any]:
    return face.to_dict() | {"by": by}


def _stored_json(face: Face) -> dict[str, Any]:
    return {"id": face.id, "person": face.person, "box": face.box, "score": face.score}


async def _read(upload: UploadFile | None, field: str = "file") -> bytes:
    if upload is None:
        raise ApiError(400, "no_file", f"send the image as a multipart form field named {field!r}")
    return await upload.read()


def _box(text: str | None) -> list[float] | None:
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


def create_app(service: Service) -> FastAPI:
    """The ASGI application for one Service: the API, /metrics, the page, the docs."""
    from fastapi_offline import FastAPIOffline

    app = FastAPIOffline(
        title="facerec",
        version=version(),
        description="Offline face recognition: enrol people, name faces in photos. Send the API "
        "key as `X-API-Key` or `Authorization: Bearer`.",
    )
    install(app)
    gallery, pool, limits, metrics = service.gallery, service.pool, service.limits, service.metrics

    def access(need: str) -> Any:
        def check(
            request: Request,
            x_api_key: Annotated[str | None, Depends(header_key)] = None,
            authorization: Annotated[Any, Depends(bearer)] = None,
        ) -> None:
            if request.method in ("GET", "HEAD"):  # bodies pass the Gate, which counted them
                client = request.client.host if request.client else "?"
                service.limiter.check(client)
            raw = request.headers.get("authorization")
            service.keys.require(presented_key(x_api_key, raw), need)
            if not service.ready:
                raise ApiError(503, "not_ready", "the server is starting or stopping")

        return Depends(check)

    can_read, can_write = access(READ), access(WRITE)

    def recognizer_json() -> dict[str, Any]:
        trained = gallery.trained
        return {"version": trained.version, "up_to_date": gallery.up_to_date()}

    def person_of(name: str) -> str:
        check_name(name)
        if name not in gallery.snapshot.people:
            raise ApiError(404, "unknown_person", f"no person named {name!r}")
        return name

    # -- people ----------------------------------------------------------------------------

    @app.get(f"{API}/people", dependencies=[can_read], tags=["people"])
    async def list_people() -> dict[str, Any]:
        """Every enrolled person with how many photos they have."""
        counts = gallery.snapshot.people_counts()
        return {
            "people": [{"name": n, "faces": c} for n, c in counts.items()],
            "recognizer": recognizer_json(),
        }

    @app.post(f"{API}/people", status_code=201, dependencies=[can_write], tags=["people"])
    async def create_person(body: PersonIn) -> dict[str, Any]:
        """A new person without photos yet (a folder in the dataset)."""
        name = check_name(body.name)
        if not await asyncio.to_thread(gallery.create_person, name):
            raise ApiError(409, "person_exists", f"{name!r} is already enrolled")
        return {"name": name, "faces": 0}

    @app.get(f"{API}/people/{{name}}", dependencies=[can_read], tags=["people"])
    async def get_person(name: str) -> dict[str, Any]:
        """A person and their enrolled photos."""
        person = person_of(name)
        faces = [_stored_json(f) for f in gallery.snapshot.faces_of(person)]
        return {"name": person, "faces": faces}

    @app.patch(f"{API}/people/{{name}}", dependencies=[can_write], tags=["people"])
    async def rename_person(name: str, body: PersonIn) -> dict[str, Any]:
        """Rename a person: their folder and every stored face."""
        person, new = person_of(name), check_name(body.name)
        if new == person:
            return {"name": new, "recognizer": recognizer_json()}
        outcome = await asyncio.to_thread(gallery.rename_person, person, new)
        if outcome == "exists":
            raise ApiError(409, "person_exists", f"{new!r} is already enrolled")
        if outcome == "unknown":
            raise ApiError(404, "unknown_person", f"no person named {person!r}")
        return {"name": new, "recognizer": recognizer_json()}

    @app.delete(f"{API}/people/{{name}}", dependencies=[can_write], tags=["people"])
    async def delete_person(name: str) -> dict[str, Any]:
        """Delete a person: their folder of photos and their stored faces."""
        person = person_of(name)
        count = await asyncio.to_thread(gallery.delete_person, person)
        if count is None:
            raise ApiError(404, "unknown_person", f"no person named {person!r}")
        return {"deleted": person, "faces": count, "recognizer": recognizer_json()}

    @app.get(f"{API}/people/{{name}}/faces", dependencies=[can_read], tags=["faces"])
    async def list_faces(name: str) -> dict[str, Any]:
        """A person's enrolled photos: id (the file in their folder), box, score."""
        person = person_of(name)
        return {"faces": [_stored_json(f) for f in gallery.snapshot.faces_of(person)]}

    @app.post(
        f"{API}/people/{{name}}/faces", status_code=201, dependencies=[can_write], tags=["faces"]
    )
    async def add_face(
        name: str,
        response: Response,
        file: Annotated[UploadFile | None, File(description="a photo of the person")] = None,
        box: Annotated[
            str | None,
            Form(description="x1,y1,x2,y2 of the face to enrol, when the photo shows several"),
        ] = None,
    ) -> dict[str, Any]:
        """Enrol a photo (its main face, or the face at `box`), creating the person if new.
        Answered once the photo and its face are on disk; recognized from the next request."""
        person = check_name(name)
        data, wanted = await _read(file), _box(box)
        every = gallery.all_faces
        ready = await pool.run(lambda r: jobs.prepare_enrolment(r, data, limits, wanted, every))
        done = await asyncio.to_thread(
            gallery.enrol, person, ready.data, ready.suffix, ready.image, ready.faces
        )
        if not done.created:
            response.status_code = 200
        return {
            "person": person,
            "face": _stored_json(done.face),
            "created": done.created,
            "recognizer": recognizer_json(),
        }

    @app.delete(
        f"{API}/people/{{name}}/faces/{{face_id:path}}", dependencies=[can_write], tags=["faces"]
    )
    async def delete_face(name: str, face_id: str) -> dict[str, Any]:
        """Delete one enrolled photo: its file and its stored face."""
        person = person_of(name)
        if not await asyncio.to_thread(gallery.delete_face, person, face_id):
            raise ApiError(404, "unknown_face", f"{person!r} has no face {face_id!r}")
        return {"deleted": face_id, "person": person, "recognizer": recognizer_json()}

    @app.get(
        f"{API}/people/{{name}}/thumbnail",
        dependencies=[can_read],
        tags=["people"],
        response_class=Response,
        responses={200: {"content": {"image/jpeg": {}}}},
    )
    async def thumbnail(name: str) -> Response:
        """A small JPEG of the person's first enrolled face."""
        person = person_of(name)
        faces = gallery.snapshot.faces_of(person)
        if not faces:
            raise ApiError(404, "unknown_face", f"{person!r} has no photo yet")
        face = faces[0]

        def make() -> bytes:
            return jobs.thumbnail(read_image(gallery.dataset / face.relpath), face.box)

        body = await asyncio.to_thread(make)
        return Response(body, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    # -- images ----------------------------------------------------------------------------

    @app.post(f"{API}/recognize", dependencies=[can_read], tags=["images"])
    async def recognize(
        file: Annotated[UploadFile | None, File(description="the image")] = None,
        annotate: Annotated[
            bool,
            Query(description="also return the image drawn with boxes and names, as a data: URL"),
        ] = False,
    ) -> dict[str, Any]:
        """Every face with a name (or "unknown"), as `facerec recognize --json` gives it, and
        which recognizer answered (`by`: the recognizer, or the nearest face enrolled since)."""
        data = await _read(file)

        def job(r: Any) -> dict[str, Any]:
            found = jobs.find_faces(r, data, limits, embed=True)
            named, trained = gallery.recognize(found.vectors)
            faces = [
                RecognizedFace(d, m) for d, (m, _) in zip(found.detections, named, strict=True)
            ]
            h, w = found.image.shape[:2]
            doc: dict[str, Any] = {
                "faces": [_face_json(f, by) for f, (_, by) in zip(faces, named, strict=True)],
                "width": w,
                "height": h,
                "recognizer": {
                    "version": trained.version,
                    "up_to_date": trained.generation == gallery.snapshot.generation,
                },
            }
            if annotate:
                doc["annotated"] = jobs.annotated(found.image, faces)
            return doc

        doc = await pool.run(job)
        metrics.faces.labels("recognize").inc(len(doc["faces"]))
        return doc

    @app.post(f"{API}/verify", dependencies=[can_read], tags=["images"])
    async def verify(
        a: Annotated[UploadFile | None, File(description="the first image")] = None,
        b: Annotated[UploadFile | None, File(description="the second image")] = None,
        max_distance: Annotated[float | None, Query(ge=0, le=2)] = None,
    ) -> dict[str, Any]:
        """Same person or not: the main face of each image, by distance (1:1)."""
        data_a, data_b = await _read(a, "a"), await _read(b, "b")

        def job(r: Any) -> dict[str, Any]:
            out = []
            for which, data in (("first", data_a), ("second", data_b)):
                try:
                    out.append(jobs.main_vector(r, data, limits))
                except ApiError as err:
                    err.message = f"the {which} image: {err.message}"
                    raise
            distance = float(pairwise_distances(out[0][1], out[1][1])[0, 0])
            limit = max_distance if max_distance is not None else r.embedder.spec.verify_distance
            return {
                "same": distance <= limit,
                "distance": round(distance, 4),
                "threshold": round(limit, 4),
                "box_a": out[0][0].box_list(),
                "box_b": out[1][0].box_list(),
            }

        doc = await pool.run(job)
        metrics.faces.labels("verify").inc(2)
        return doc

    @app.post(f"{API}/find", dependencies=[can_read], tags=["images"])
    async def find(
        file: Annotated[UploadFile | None, File(description="a photo")] = None,
        k: Annotated[int, Query(ge=1, le=100, description="how many faces")] = 5,
    ) -> dict[str, Any]:
        """The k enrolled faces nearest to the photo's main face, nearest first."""
        data = await _read(file)
        face, vector = await pool.run(lambda r: jobs.main_vector(r, data, limits))
        found = await asyncio.to_thread(gallery.nearest, vector, k)
        neighbours = [n.to_dict() | {"id": face_id(n.path)} for n in found]
        metrics.faces.labels("find").inc()
        return {"box": face.box_list(), "neighbours": neighbours}

    @app.post(f"{API}/detect", dependencies=[can_read], tags=["images"])
    async def detect(
        file: Annotated[UploadFile | None, File(description="the image")] = None,
    ) -> dict[str, Any]:
        """Every face's box, score and 5 landmarks; no recognizer needed."""
        data = await _read(file)
        found = await pool.run(lambda r: jobs.find_faces(r, data, limits, embed=False))
        h, w = found.image.shape[:2]
        faces = [d.to_dict() for d in found.detections]
        metrics.faces.labels("detect").inc(len(faces))
        return {"faces": faces, "width": w, "height": h}

    # -- operations --------------------------------------------------------------------------

    @app.get(f"{API}/health", tags=["operations"])
    async def health() -> dict[str, str]:
        """The process answers (liveness)."""
        return {"status": "ok"}

    @app.get(f"{API}/ready", tags=["operations"], responses={503: {"description": "not ready"}})
    async def ready() -> JSONResponse:
        """The models are loaded and the gallery open (readiness)."""
        snap = gallery.snapshot
        doc = {
            "ready": service.ready,
            "faces": len(snap.faces),
            "people": len(snap.people),
            "recognizer": recognizer_json(),
            "workers": pool.size,
        }
        return JSONResponse(doc, status_code=200 if service.ready else 503)

    @app.get(
        "/metrics",
        dependencies=[can_read],
        tags=["operations"],
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}}},
    )
    async def prometheus() -> Response:
        """Prometheus text format: requests, latency, faces, the recognizer in use."""
        snap, trained = gallery.snapshot, gallery.trained
        metrics.gallery_faces.set(len(snap.faces))
        metrics.people.set(len(snap.people))
        metrics.model.clear()
        spec = pool.first
        metrics.model.labels(trained.version, spec.embedder.spec.id, spec.detector.spec.id).set(1)
        metrics.up_to_date.set(1 if gallery.up_to_date() else 0)
        metrics.refits.set(gallery.refits)
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    # -- the page ----------------------------------------------------------------------------

    @app.get("/", include_in_schema=False)
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

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(
        Gate,
        keys=service.keys,
        limiter=service.limiter,
        limit=limits.upload_bytes,
        budget=limits.in_flight_bytes,
        body_seconds=limits.body_seconds,
        writes=lambda method, path: path.startswith(f"{API}/people"),
    )
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app
