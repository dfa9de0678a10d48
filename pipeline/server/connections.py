"""Connection limits uvicorn lacks: a deadline for a request's headers, and a cap on open
connections.

uvicorn times out a connection only when it is idle between requests (keep-alive, 5 s): a
client that connects and sends nothing, or half a request line, is held as long as it likes.
1,100 such connections under the usual 1,024 open-file limit made /api/v1/health fail and
wrote 202,306 "Too many open files" tracebacks (85 MB of log in 25 s). So each connection
must finish sending a request's headers within HEADER_SECONDS of opening (or of its previous
response), and at most `max_connections` are open at once: past that, a new connection pushes
out the oldest one that is waiting for a request (so a flood of idle connections cannot lock
out a real client), or is closed itself when every other one is busy, with one log line a
minute saying how many were closed.
The body's own deadline is the Gate's (security.py).
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)

HEADER_SECONDS = 10.0
MAX_CONNECTIONS = 256


def raise_open_file_limit() -> int:
    """The soft limit on open files raised to the hard one (1,024 is common; connections,
    models and the store share it); returns the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            return hard
        except (ValueError, OSError):
            return soft
    return soft


class _Refusals:
    """Connections closed for the cap, logged at most once a minute."""

    def __init__(self) -> None:
        self.count = 0
        self.logged_at = 0.0

    def add(self, cap: int) -> None:
        self.count += 1
        now = time.monotonic()
        if now - self.logged_at >= 60.0:
            log.warning(
                "%d connections closed in the last minute: %d were open (the cap)", self.count, cap
            )
            self.count, self.logged_at = 0, now


REFUSALS = _Refusals()


def guarded_protocol(
    header_seconds: float = HEADER_SECONDS, max_connections: int = MAX_CONNECTIONS
) -> type[H11Protocol]:
    """uvicorn's HTTP/1.1 protocol with a header deadline and a connection cap (pass it as
    uvicorn.run(..., http=...))."""

    class Guarded(H11Protocol):
        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._opened = time.monotonic()
            self._header_timer: asyncio.TimerHandle | None = None
            if len(self.connections) > max_connections:
                REFUSALS.add(max_connections)
                others: list[Any] = [c for c in self.connections if c is not self]  # all Guarded
                idle = [c for c in others if c._idle()]
                if not idle:  # every other connection is busy with a request: refuse this one
                    transport.abort()
                    return
                min(idle, key=lambda c: c._opened).transport.abort()  # the oldest idle one
            self._arm()

        def _idle(self) -> bool:
            """Waiting for a request (none under way): what an idle-connection flood holds."""
            return self.cycle is None or self.cycle.response_complete

        def _arm(self) -> None:
            self._header_timer = self.loop.call_later(header_seconds, self._too_slow)

        def _disarm(self) -> None:
            timer = getattr(self, "_header_timer", None)
            if timer is not None:
                timer.cancel()
                self._header_timer = None

        def _too_slow(self) -> None:
            self._header_timer = None
            if self.cycle is None or self.cycle.response_complete:  # no request under way
                self.transport.close()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.cycle is not None and not self.cycle.response_complete:
                self._disarm()  # the headers are in; the Gate times the body

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._disarm()
            if not self.transport.is_closing():
                self._arm()  # the next request's headers, as for a new connection

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return Guarded
