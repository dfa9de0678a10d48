"""Refitting a live gallery's recognizer: when (Refitter, once changes are quiet) and how
(refit, train-model's fit on the snapshot, saved where train-model saves it)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from pipeline.registry import ModelSpec
from pipeline.server.snapshot import Snapshot, Trained, file_version
from pipeline.train import fit_classifier

log = logging.getLogger(__name__)


class Refitter:
    """Calls `fit` on a thread of its own once changes have been quiet for `debounce` seconds:
    a burst of enrolments costs one refit, not one each."""

    def __init__(self, fit: Callable[[], None], debounce: float) -> None:
        self._fit = fit
        self.debounce = debounce
        self._changed = threading.Condition()
        self._due: float | None = None
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="facerec-refit")

    def start(self) -> None:
        self._thread.start()

    def schedule(self, at_once: bool = False) -> None:
        """A change happened: refit after `debounce` quiet seconds (`at_once`: as soon as the
        thread runs)."""
        with self._changed:
            self._due = time.monotonic() + (0.0 if at_once else self.debounce)
            self._changed.notify_all()

    def pause(self, seconds: float) -> bool:
        """Sleep up to `seconds`, woken early by stop(); False once stopping."""
        with self._changed:
            if not self._stopping:
                self._changed.wait(seconds)
            return not self._stopping

    def stop(self) -> None:
        """No more refits; one in progress finishes first. Again is a no-op."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        if self._thread.is_alive():
            self._thread.join()

    def _loop(self) -> None:
        while True:
            with self._changed:
                while not self._stopping and (self._due is None or time.monotonic() < self._due):
                    wait = None if self._due is None else max(0.0, self._due - time.monotonic())
                    self._changed.wait(wait)
                if self._stopping:
                    return
                self._due = None
            try:
                self._fit()
            except Exception:  # keep serving with the recognizer in use; say why
                log.exception("refitting the recognizer failed; answering with the previous one")


def refit(snap: Snapshot, spec: ModelSpec, detector_id: str, model_path: Path) -> Trained:
    """The recognizer train-model would fit on the snapshot's main faces, saved atomically to
    `model_path`; none (version "none") for an empty gallery."""
    main = [i for i, f in enumerate(snap.faces) if f.main]
    if not main:
        return Trained(None, "none", snap.generation)
    order = sorted(main, key=lambda i: snap.faces[i].relpath)  # train-model's order
    names = [snap.faces[i].person for i in order]
    classifier = fit_classifier(
        snap.vectors[order],
        names,
        spec.max_distance,
        spec.min_probability,
        spec.id,
        far=spec.far,
        rule=spec.rule,
    )
    classifier.detector_id = detector_id
    classifier.save(model_path)
    trained = Trained(classifier, file_version(model_path), snap.generation, frozenset(names))
    log.info("recognizer %s: %d faces of %d people", trained.version, len(names), len(set(names)))
    return trained
