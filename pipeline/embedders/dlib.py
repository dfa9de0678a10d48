"""DlibEmbedder: dlib's ResNet face descriptor (the face_recognition model) as an optional backend.

Only landmarks and embedding come from dlib; detection stays the SSD. Each face is aligned the
way the model was trained: dlib's 5-point shape predictor on the detector box, then
`get_face_chip` (150 px, padding 0.25). Descriptors are L2-normalised like every embedding
here. dlib is imported only when this embedder is chosen (pip install '.[dlib]').
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pipeline.embedders.base import embed_crops
from pipeline.errors import ModelError
from pipeline.extras import install_hint
from pipeline.modelfiles import ModelFiles
from pipeline.registry import ModelSpec
from pipeline.types import Detection, Embeddings, Image


def import_dlib():  # noqa: ANN201 (dlib has no type stubs)
    """The dlib module, or one clear error saying how to install it."""
    try:
        import dlib
    except ImportError as err:
        raise ModelError(f"the dlib embedder needs the dlib extra: {install_hint('dlib')}") from err
    return dlib


class DlibEmbedder:
    """Same interface as Embedder: crops(image, detections) then embed(crops)."""

    def __init__(self, spec: ModelSpec, files: ModelFiles) -> None:
        dlib = import_dlib()
        self.spec = spec
        self._dlib = dlib
        net_file, predictor_file = (str(files.path(f)) for f in spec.files)
        self.center = files.center(spec)
        self.net = dlib.face_recognition_model_v1(net_file)
        self.predictor = dlib.shape_predictor(predictor_file)

    @property
    def id(self) -> str:
        return self.spec.id

    def crops(self, image: Image, detections: Sequence[Detection]) -> Image:
        """dlib-aligned 150x150 RGB chips, one per detection, shaped (N, 150, 150, 3)."""
        size = self.spec.input_size[0]
        if not detections:
            return np.zeros((0, size, size, 3), np.uint8)
        rgb = np.ascontiguousarray(image[..., ::-1])
        chips = []
        for det in detections:
            x1, y1, x2, y2 = (int(round(float(v))) for v in det.box)
            shape = self.predictor(rgb, self._dlib.rectangle(x1, y1, x2, y2))
            chip = self._dlib.get_face_chip(rgb, shape, size=size, padding=self.spec.margin)
            chips.append(np.asarray(chip, np.uint8))
        return np.stack(chips)

    def embed(self, crops: Image) -> Embeddings:
        """(N, 128) unit vectors for (N, 150, 150, 3) RGB chips made by crops()."""
        return embed_crops(self._forward, crops, self.spec, self.center)

    def _forward(self, crops: Image) -> Embeddings:
        chips = [np.ascontiguousarray(c) for c in crops]
        return np.array(self.net.compute_face_descriptor(chips), np.float32).reshape(len(chips), -1)
