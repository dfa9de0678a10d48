"""What makes the server safe to leave running: API keys, a rate per client, a body size cap,
and names that cannot become paths or terminal escapes."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from pipeline.extract import name_problem
from pipeline.server.problems import ApiError

READ = "read"
WRITE = "write"
MAX_NAME = 100
MAX_NAME_BYTES = 255  # a folder name's limit on every common file system


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


@dataclass(frozen=True, slots=True)
class Keys:
    """The accepted keys, kept as sha256 digests only. A write key also reads."""

    write: tuple[bytes, ...]
    read: tuple[bytes, ...] = ()
    open_reads: bool = False

    @classmethod
    def of(cls, write: list[str], read: list[str] = (), open_reads: bool = False) -> Keys:  # type: ignore[assignment]
        return cls(tuple(_digest(k) for k in write), tuple(_digest(k) for k in read), open_reads)

    def access(self, presented: str | None) -> str | None:
        """WRITE, READ or None for a presented key. Every configured key is compared, each in
        constant time (hmac.compare_digest of digests), so timing tells nothing about which
        key, or how much of one, matched."""
        if not presented:
            return None
        given = _digest(presented)
        writes = [hmac.compare_digest(given, k) for k in self.write]
        reads = [hmac.compare_digest(given, k) for k in self.read]
        if any(writes):
            return WRITE
        return READ if any(reads) else None

    def require(self, presented: str | None, need: str) -> None:
        """Raise the API's 401/403 unless `presented` grants `need`."""
        if need == READ and self.open_reads:
            return
        granted = self.access(presented)
        if granted == WRITE or (granted == READ and need == READ):
            return
        if not presented:
            raise ApiError(
                401,
                "missing_key",
                "send the API key as X-API-Key or Authorization: Bearer",
                {"WWW-Authenticate": "Bearer"},
            )
        if granted == READ:
            raise ApiError(403, "read_only_key", "this key may read, not change the gallery")
        raise ApiError(401, "wrong_key", "the API key is not valid", {"WWW-Authenticate": "Bearer"})


class RedactKeys(logging.Filter):
    """Blanks the value of every query parameter whose name holds "key" or "token" in
    uvicorn's access log lines: a client that puts its API key in the URL is refused, but the
    line would still have carried the key into the log."""

    _SECRET = re.compile(r"([?&][^=&#]*(?:key|token)[^=&#]*=)[^&#]*", re.IGNORECASE)

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], self._SECRET.sub(r"\1REDACTED", args[2]), *args[3:])
        return True


def presented_key(x_api_key: str | None, authorization: str | None) -> str | None:
    """The key from `X-API-Key`, else from `Authorization: Bearer <key>`."""
    if x_api_key:
        return x_api_key
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    return None


class RateLimiter:
    """A token bucket per client address: `rate` requests a second, bursts of `burst`.

    At most `clients` addresses are remembered (least recently seen forgotten first), so a
    flood of addresses cannot grow memory. rate 0 turns it off.
    """

    def __init__(self, rate: float, burst: int, clients: int = 10_000) -> None:
        self.rate, self.burst, self.clients = rate, max(1, burst), clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, client: str) -> None:
        """Take a token for `client`, or raise the API's 429 with Retry-After."""
        if self.rate <= 0:
            return
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.pop(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[client] = (tokens, now)
                wait = (1.0 - tokens) / self.rate
                raise ApiError(
                    429,
                    "rate_limited",
                    f"more than {self.rate:g} requests a second; retry in {wait:.1f} s",
                    {"Retry-After": str(max(1, round(wait)))},
                )
            self._buckets[client] = (tokens - 1.0, now)
            while len(self._buckets) > self.clients:
                self._buckets.popitem(last=False)


def check_name(name: str) -> str:
    """A person's name as given, or the API's 422 `bad_name`: it becomes a folder name, so no
    path separators, no `.` or `..`, no leading dot (hidden folders are not read), no control
    or invisible format characters, no surrounding spaces, at most 100 characters, and not
    `unknown` (the answer for strangers)."""
    why = None
    if not name or len(name) > MAX_NAME:
        why = f"a name has 1 to {MAX_NAME} characters"
    elif len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        why = f"a name takes at most {MAX_NAME_BYTES} bytes as UTF-8 (a folder name's limit)"
    elif "/" in name or "\\" in name:
        why = "a name cannot hold / or \\"
    elif name.startswith("."):
        why = "a name cannot start with a dot"
    elif name != name.strip():
        why = "a name cannot start or end with a space"
    elif any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") for c in name):
        why = "a name cannot hold control or invisible characters"
    else:
        why = name_problem(name)
    if why is not None:
        raise ApiError(422, "bad_name", why)
    return name


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class Gate:
    """ASGI middleware that decides about a request before its body is read, so a client
    without a key cannot make the server hold anything:

    - the rate per client address (429) and the key (401/403: a write key for a route that
      changes the gallery, any key for the others unless reads are open), from the headers;
    - the declared length against the upload limit (413);
    - a global budget of body bytes held at once, by every request together (503 `busy` with
      Retry-After when a body would pass it);
    - a deadline for the whole body (408): a half-sent or slower-than-declared body is not
      waited for past it.
    The body is then read into memory once (counted against the budget until the response is
    sent) and handed to the application.
    """

    def __init__(
        self,
        app: Callable[[Scope, Receive, Send], Awaitable[None]],
        keys: Keys,
        limiter: RateLimiter,
        limit: int,
        budget: int,
        body_seconds: float,
        writes: Callable[[str, str], bool],
    ) -> None:
        self.app, self.keys, self.limiter = app, keys, limiter
        self.limit, self.budget, self.body_seconds = limit, budget, body_seconds
        self.writes = writes  # (method, path) -> does this route change the gallery?
        self.held = 0  # body bytes held by requests in flight

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        try:
            client = scope["client"][0] if scope.get("client") else "?"
            self.limiter.check(client)
            need = WRITE if self.writes(scope["method"], scope["path"]) else READ
            raw_key = headers.get(b"x-api-key", b"").decode("latin-1") or None
            bearer = headers.get(b"authorization", b"").decode("latin-1") or None
            self.keys.require(presented_key(raw_key, bearer), need)
        except ApiError as err:
            await _answer(send, err.status, err.code, err.message, err.headers)
            return
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            mb = self.limit / (1 << 20)
            await _answer(send, 413, "too_large", f"the request is over the {mb:g} MB upload limit")
            return
        claim = int(length) if length is not None else self.limit  # chunked: the worst case
        if self.held and self.held + claim > self.budget:
            await _answer(
                send,
                503,
                "busy",
                "too many uploads at once; retry in a second",
                {"Retry-After": "1"},
            )
            return
        self.held += claim
        try:
            body = await self._read(receive, send)
            if body is None:
                return
            sent = False

            async def replay() -> Message:
                nonlocal sent
                if not sent:
                    sent = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            await self.app(scope, replay, send)
        finally:
            self.held -= claim

    async def _read(self, receive: Receive, send: Send) -> bytes | None:
        """The whole body within the deadline and the limit; None after answering why not."""
        chunks, total = [], 0
        deadline = asyncio.get_running_loop().time() + self.body_seconds
        while True:
            left = deadline - asyncio.get_running_loop().time()
            try:
                message = await asyncio.wait_for(receive(), timeout=max(left, 0.001))
            except asyncio.TimeoutError:
                await _answer(
                    send, 408, "too_slow", f"the body did not arrive within {self.body_seconds:g} s"
                )
                return None
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > self.limit:
                mb = self.limit / (1 << 20)
                await _answer(
                    send, 413, "too_large", f"the request is over the {mb:g} MB upload limit"
                )
                return None
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)


async def _answer(
    send: Send, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> None:
    """A JSON error sent straight from middleware, closing the connection (its unread body
    is not waited for)."""
    body = json.dumps({"error": code, "message": message}).encode()
    extra = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
