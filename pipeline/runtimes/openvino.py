"""The embedding net run by OpenVINO (optional extra `.[openvino]`).

OpenVINO reads the TensorFlow frozen graph itself, so the weights are the same sha256-checked
file cv2.dnn reads (with the same in-memory batch patches); nothing is downloaded. Inference
runs in fp32: OpenVINO's CPU default may pick bf16 where the CPU has it, which moved embeddings
by 2e-3 here.

Converting the graph takes about 0.9 s, which every command would pay at start, so the
converted model is kept in a cache folder (FACEREC_CACHE, else $XDG_CACHE_HOME/facerec, else
~/.cache/facerec) under a name made of the model id, its file's sha256 and OpenVINO's version,
with the sha256 of what was written; a cached copy that does not match is converted again. A
cache that cannot be written (a read-only home) only costs the conversion.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from pipeline import registry
from pipeline.atomic import write_bytes
from pipeline.errors import FaceRecError, ModelError
from pipeline.modelfiles import ModelFiles


class OpenVinoRunner:
    name = "openvino"

    def __init__(
        self,
        spec: registry.ModelSpec,
        files: ModelFiles | None = None,
        batch_size: int = 8,
    ) -> None:
        import openvino as ov

        if spec.format != "tensorflow":
            raise ModelError(f"{spec.id}: the OpenVINO runner reads TensorFlow graphs only")
        self.spec = spec
        self.batch_size = max(1, batch_size)
        model = _cached(spec) or _convert(spec, files or ModelFiles())
        # OMP_NUM_THREADS when set (Ray sets it to an actor's CPUs), else every core. A process
        # with fewer threads than cores must not pin them: OpenVINO pins to the first cores, so
        # two Ray actors of one thread each shared core 0 and left core 1 idle (measured).
        cores = os.cpu_count() or 1
        threads = int(os.environ.get("OMP_NUM_THREADS") or 0) or cores
        self._compiled = ov.Core().compile_model(
            model,
            "CPU",
            {
                "INFERENCE_PRECISION_HINT": "f32",
                "PERFORMANCE_HINT": "LATENCY",
                "INFERENCE_NUM_THREADS": threads,
                "ENABLE_CPU_PINNING": threads >= cores,
            },
        )
        self._request = self._compiled.create_infer_request()
        self._output = self._compiled.outputs[0]

    def run(self, blob: np.ndarray) -> np.ndarray:
        """(N, 3, S, S) float32 -> (N, D); the graph takes NHWC."""
        nhwc = np.ascontiguousarray(blob.transpose(0, 2, 3, 1))
        parts = []
        for start in range(0, len(nhwc), self.batch_size):
            result = self._request.infer({0: nhwc[start : start + self.batch_size]})
            parts.append(np.asarray(result[self._output]).reshape(-1, self.spec.output_dim))
        return np.concatenate(parts)


log = logging.getLogger(__name__)


def cache_dir() -> Path:
    if os.environ.get("FACEREC_CACHE"):
        return Path(os.environ["FACEREC_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "facerec"


def _paths(spec: registry.ModelSpec) -> dict[str, Path]:
    """The cache's .xml, .bin and .sha256 files for this model and this OpenVINO."""
    import openvino as ov

    version = re.sub(r"[^A-Za-z0-9]+", "_", ov.__version__)  # "2026.4.1-22982-.../2026/4"
    stem = f"{spec.id}-{spec.files[0].sha256[:16]}-openvino_{version}"
    return {s: cache_dir() / f"{stem}.{s}" for s in ("xml", "bin", "sha256")}


def _digests(xml: Path, weights: Path) -> dict[str, str]:
    return {p.suffix: hashlib.sha256(p.read_bytes()).hexdigest() for p in (xml, weights)}


def _cached(spec: registry.ModelSpec) -> Any | None:
    """The converted model from the cache, if it is there and whole; else None."""
    import openvino as ov

    files = _paths(spec)
    try:
        if json.loads(files["sha256"].read_text()) != _digests(files["xml"], files["bin"]):
            return None
        return ov.Core().read_model(str(files["xml"]))
    except (OSError, ValueError, RuntimeError) as err:
        log.debug("no usable OpenVINO cache at %s: %s", files["xml"], err)
        return None


def _convert(spec: registry.ModelSpec, files: ModelFiles) -> Any:
    """Convert the checked, patched graph, batch size free, and try to cache the result."""
    import openvino as ov

    data = files.data(spec.files[0])
    with tempfile.TemporaryDirectory(prefix="facerec-ov-") as folder:
        graph = Path(folder) / spec.files[0].name  # convert_model reads a path
        graph.write_bytes(data)
        model = ov.convert_model(str(graph))
    width, height = spec.input_size
    model.reshape({model.inputs[0]: ov.PartialShape([-1, height, width, 3])})
    cached = _paths(spec)
    try:
        cache = cached["xml"].parent
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".facerec-ov-", dir=cache) as tmp_folder:
            tmp = Path(tmp_folder) / "model.xml"
            ov.save_model(model, str(tmp), compress_to_fp16=False)  # fp16 would move vectors
            sums = _digests(tmp, tmp.with_suffix(".bin"))
            os.replace(tmp.with_suffix(".bin"), cached["bin"])
            os.replace(tmp, cached["xml"])
        write_bytes(cached["sha256"], json.dumps(sums).encode())  # last: marks the copy whole
    except (OSError, FaceRecError) as err:
        log.debug("cannot cache the converted model in %s: %s", cached["xml"].parent, err)
    return model
