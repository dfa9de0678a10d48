"""The API's errors: JSON `{"error": code, "message": text}` with a stable code, never a
traceback. 4xx are the client's mistakes; 5xx only ours (logged with their traceback here)."""

from __future__ import annotations

import logging
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from pipeline.errors import FaceRecError, ImageError, NameTaken, NoFaceError, TooManyFaces

log = logging.getLogger(__name__)

# Every code the API answers with, and its status; docs/server.md lists them for clients.
CODES = {
    "no_file": 400,
    "empty_file": 400,
    "not_an_image": 400,
    "missing_key": 401,
    "wrong_key": 401,
    "read_only_key": 403,
    "not_found": 404,
    "unknown_person": 404,
    "unknown_face": 404,
    "method_not_allowed": 405,
    "person_exists": 409,
    "too_large": 413,
    "too_many_pixels": 413,
    "bad_request": 422,
    "bad_name": 422,
    "no_face": 422,
    "too_many_faces": 422,
    "cannot_process": 422,
    "rate_limited": 429,
    "internal": 500,
    "storage": 507,
    "not_ready": 503,
}


class ApiError(Exception):
    """An answer other than success: HTTP status, stable code, one-line message."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def error_response(
    status: int, code: str, message: str, headers: dict | None = None
) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every failure into the API's JSON error."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, err: ApiError) -> JSONResponse:
        return error_response(err.status, err.code, err.message, err.headers)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, err: HTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(err.status_code, "bad_request")
        try:
            text = HTTPStatus(err.status_code).phrase
        except ValueError:
            text = "error"
        detail = err.detail if isinstance(err.detail, str) else text
        return error_response(err.status_code, code, detail, getattr(err, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError) -> JSONResponse:
        first = err.errors()[0] if err.errors() else {}
        if "UploadFile" in str(first.get("msg", "")):  # a form field where a file belongs
            field = first.get("loc", ("", "file"))[-1]
            return error_response(
                400,
                "no_file",
                f"{field!r} must be a file (a multipart part with a filename), not a text field",
            )
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = f"{where}: {first.get('msg', 'invalid')}" if where else "invalid request"
        return error_response(422, "bad_request", message[:300])

    @app.exception_handler(NameTaken)
    async def name_taken(request: Request, err: NameTaken) -> JSONResponse:
        return error_response(409, "name_taken", str(err))

    @app.exception_handler(TooManyFaces)
    async def too_many(request: Request, err: TooManyFaces) -> JSONResponse:
        return error_response(422, "too_many_faces", str(err))

    @app.exception_handler(NoFaceError)
    async def no_face(request: Request, err: NoFaceError) -> JSONResponse:
        return error_response(422, "no_face", str(err))

    @app.exception_handler(ImageError)
    async def bad_image(request: Request, err: ImageError) -> JSONResponse:
        return error_response(400, "not_an_image", str(err))

    @app.exception_handler(FaceRecError)
    async def ours(request: Request, err: FaceRecError) -> JSONResponse:
        log.error("%s %s: %s", request.method, request.url.path, err)
        return error_response(
            507 if "cannot write" in str(err) else 500,
            "storage" if "cannot write" in str(err) else "internal",
            str(err),
        )

    @app.exception_handler(Exception)
    async def crash(request: Request, err: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return error_response(500, "internal", "the server failed on this request; see its log")
