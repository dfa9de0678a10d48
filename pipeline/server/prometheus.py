"""Prometheus metrics of one server, in a registry of its own (no process-wide globals)."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from pipeline.server.security import Receive, Scope, Send


class Metrics:
    """Requests, latency, faces processed, and the recognizer and gallery in use."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "facerec_requests",
            "HTTP requests answered",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "facerec_request_seconds",
            "Time to answer a request",
            ["route"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.faces = Counter(
            "facerec_faces",
            "Faces detected in uploaded images",
            ["endpoint"],
            registry=self.registry,
        )
        self.gallery_faces = Gauge(
            "facerec_gallery_faces", "Enrolled faces", registry=self.registry
        )
        self.people = Gauge("facerec_gallery_people", "Enrolled people", registry=self.registry)
        self.model = Gauge(
            "facerec_recognizer_info",
            "The recognizer in use (value 1)",
            ["version", "embedder", "detector"],
            registry=self.registry,
        )
        self.up_to_date = Gauge(
            "facerec_recognizer_up_to_date",
            "1 when the recognizer was fitted on every enrolled face",
            registry=self.registry,
        )
        self.refits = Gauge(
            "facerec_refits", "Recognizer refits since start", registry=self.registry
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


# A made-up method must not become a label value: 100,000 requests with new methods made
# 100,004 series (21 MB) before.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class MetricsMiddleware:
    """ASGI middleware counting every request by route template (not raw path, which would
    let a client grow the label set without bound) and its latency."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status = time.perf_counter(), 500

        async def record(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope["method"] if scope["method"] in KNOWN_METHODS else "other"
            self.metrics.requests.labels(route, method, str(status)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - start)
