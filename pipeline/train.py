"""train_model: fit the IdentityClassifier on the store's embeddings and save it atomically."""

from __future__ import annotations

import os
from collections import Counter

from .classify import IdentityClassifier
from .errors import DatasetError
from .store import EmbeddingStore
from .types import TrainReport


def default_min_probability(people: int) -> float:
    """1.5x the chance level of `people` classes, at most 0.2: rejects only clear coin-flips.

    With one to three photos a person the calibrated SVM probabilities of correct matches sit
    around 0.4-0.55 (measured on the bundled sample), so the distance check does most of the
    rejecting; this floor catches faces the SVM cannot place at all.
    """
    return min(0.2, 1.5 / max(people, 1))


def train_model(
    store: EmbeddingStore,
    path: str | os.PathLike[str],
    max_distance: float,
    min_probability: float,
    C: float = 1.0,
) -> TrainReport:
    """Train on every embedded face in `store` and write the recognizer file to `path`.

    The previous file at `path` stays intact until the new one is completely written.

    Raises:
        DatasetError: the store holds no embeddings.
    """
    names, embeddings, _ = store.embeddings()
    if not names:
        raise DatasetError(
            f"{store.path}: no embedded faces to train on (run extract-embeddings on a dataset "
            "with at least one face per person)"
        )
    if min_probability <= 0:
        min_probability = default_min_probability(len(set(names)))
    model = IdentityClassifier(max_distance, min_probability, C, store.embedder_id)
    model.fit(embeddings, names)
    model.save(path)
    return TrainReport(
        path=str(path),
        people=dict(sorted(Counter(names).items())),
        mode=model.mode or "",
        notes=tuple(model.notes),
        max_distance=max_distance,
        min_probability=min_probability,
        embedder_id=store.embedder_id,
    )
