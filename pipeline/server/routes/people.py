"""/api/v1/people: enrol, list, rename and delete people and their photos."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Response, UploadFile
from pydantic import BaseModel, Field

from pipeline.imageio import read_image
from pipeline.server import jobs
from pipeline.server.problems import ApiError
from pipeline.server.security import check_name
from pipeline.server.service import (
    API,
    Served,
    can_read,
    can_write,
    parse_box,
    person_of,
    read_file_field,
    recognizer_json,
    stored_json,
)

router = APIRouter(prefix=f"{API}/people")


class PersonIn(BaseModel):
    name: str = Field(
        description="the person's name, 1-100 characters; it names their folder, so "
        "no / \\ or control characters",
        examples=["ada_lovelace"],
    )


@router.get("", dependencies=[can_read], tags=["people"])
async def list_people(service: Served) -> dict[str, Any]:
    """Every enrolled person with how many photos they have."""
    counts = service.gallery.snapshot.people_counts()
    return {
        "people": [{"name": n, "faces": c} for n, c in counts.items()],
        "recognizer": recognizer_json(service.gallery),
    }


@router.post("", status_code=201, dependencies=[can_write], tags=["people"])
async def create_person(body: PersonIn, service: Served) -> dict[str, Any]:
    """A new person without photos yet (a folder in the dataset)."""
    name = check_name(body.name)
    if not await asyncio.to_thread(service.gallery.create_person, name):
        raise ApiError(409, "person_exists", f"{name!r} is already enrolled")
    return {"name": name, "faces": 0}


@router.get("/{name}", dependencies=[can_read], tags=["people"])
async def get_person(name: str, service: Served) -> dict[str, Any]:
    """A person and their enrolled photos."""
    gallery = service.gallery
    person = person_of(gallery, name)
    return {"name": person, "faces": [stored_json(f) for f in gallery.snapshot.faces_of(person)]}


@router.patch("/{name}", dependencies=[can_write], tags=["people"])
async def rename_person(name: str, body: PersonIn, service: Served) -> dict[str, Any]:
    """Rename a person: their folder and every stored face."""
    gallery = service.gallery
    person, new = person_of(gallery, name), check_name(body.name)
    if new == person:
        return {"name": new, "recognizer": recognizer_json(gallery)}
    outcome = await asyncio.to_thread(gallery.rename_person, person, new)
    if outcome == "exists":
        raise ApiError(409, "person_exists", f"{new!r} is already enrolled")
    if outcome == "unknown":
        raise ApiError(404, "unknown_person", f"no person named {person!r}")
    return {"name": new, "recognizer": recognizer_json(gallery)}


@router.delete("/{name}", dependencies=[can_write], tags=["people"])
async def delete_person(name: str, service: Served) -> dict[str, Any]:
    """Delete a person: their folder of photos and their stored faces."""
    gallery = service.gallery
    person = person_of(gallery, name)
    count = await asyncio.to_thread(gallery.delete_person, person)
    if count is None:
        raise ApiError(404, "unknown_person", f"no person named {person!r}")
    return {"deleted": person, "faces": count, "recognizer": recognizer_json(gallery)}


@router.get("/{name}/faces", dependencies=[can_read], tags=["faces"])
async def list_faces(name: str, service: Served) -> dict[str, Any]:
    """A person's enrolled photos: id (the file in their folder), box, score."""
    gallery = service.gallery
    person = person_of(gallery, name)
    return {"faces": [stored_json(f) for f in gallery.snapshot.faces_of(person)]}


@router.post("/{name}/faces", status_code=201, dependencies=[can_write], tags=["faces"])
async def add_face(
    name: str,
    response: Response,
    service: Served,
    file: Annotated[UploadFile | None, File(description="a photo of the person")] = None,
    box: Annotated[
        str | None,
        Form(description="x1,y1,x2,y2 of the face to enrol, when the photo shows several"),
    ] = None,
) -> dict[str, Any]:
    """Enrol a photo (its main face, or the face at `box`), creating the person if new.
    Answered once the photo and its face are on disk; recognized from the next request."""
    gallery, limits = service.gallery, service.limits
    person = check_name(name)
    data, wanted = await read_file_field(file), parse_box(box)
    every = gallery.all_faces
    ready = await service.pool.run(lambda r: jobs.prepare_enrolment(r, data, limits, wanted, every))
    done = await asyncio.to_thread(
        gallery.enrol, person, ready.data, ready.suffix, ready.image, ready.faces
    )
    if not done.created:
        response.status_code = 200
    return {
        "person": person,
        "face": stored_json(done.face),
        "created": done.created,
        "recognizer": recognizer_json(gallery),
    }


@router.delete("/{name}/faces/{face_id:path}", dependencies=[can_write], tags=["faces"])
async def delete_face(name: str, face_id: str, service: Served) -> dict[str, Any]:
    """Delete one enrolled photo: its file and its stored face."""
    gallery = service.gallery
    person = person_of(gallery, name)
    if not await asyncio.to_thread(gallery.delete_face, person, face_id):
        raise ApiError(404, "unknown_face", f"{person!r} has no face {face_id!r}")
    return {"deleted": face_id, "person": person, "recognizer": recognizer_json(gallery)}


@router.get(
    "/{name}/thumbnail",
    dependencies=[can_read],
    tags=["people"],
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
)
async def thumbnail(name: str, service: Served) -> Response:
    """A small JPEG of the person's first enrolled face."""
    gallery = service.gallery
    person = person_of(gallery, name)
    faces = gallery.snapshot.faces_of(person)
    if not faces:
        raise ApiError(404, "unknown_face", f"{person!r} has no photo yet")
    face = faces[0]

    def make() -> bytes:
        return jobs.thumbnail(read_image(gallery.dataset / face.relpath), face.box)

    body = await asyncio.to_thread(make)
    return Response(body, media_type="image/jpeg", headers={"Cache-Control": "no-store"})
