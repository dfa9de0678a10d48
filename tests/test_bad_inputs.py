"""The bad-input catalogue (docs/bad-inputs.md): each entry's documented behaviour, on real faces.

A single bad input is one line on stderr and exit 1; inside a batch it is skipped, reported,
and the batch finishes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import BBT, DATASET, ROOT, copy_dataset, run_json
from PIL import Image as PILImage

from pipeline.cli import main
from pipeline.errors import ImageError
from pipeline.imageio import MAX_PIXELS, decode_image, read_image

IMAGES = ROOT / "tests" / "data" / "images"
OBAMA = DATASET / "obama" / "obama.jpg"


def extract(capsys, dataset: Path, store: Path) -> dict:
    return run_json(capsys, "extract-embeddings", "--dataset", str(dataset), "--store", str(store))


def skip_reasons(doc: dict) -> dict[str, str]:
    return {s["path"]: s["reason"] for s in doc["skipped"]}


def one_face_embedded(capsys, tmp_path: Path, make) -> dict:
    """Put one image made by make(path) in a one-person dataset and extract it."""
    person = tmp_path / "dataset" / "obama"
    person.mkdir(parents=True)
    make(person)
    return extract(capsys, tmp_path / "dataset", tmp_path / "e.db")


# -- unreadable files: skipped in a batch, one line for a single image ---------------------------


def test_empty_dataset_is_one_line(capsys, tmp_path) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["extract-embeddings", "--dataset", str(tmp_path / "empty")]) == 1
    assert "no images found" in capsys.readouterr().err


def test_a_person_without_a_usable_image_is_named(capsys, tmp_path) -> None:
    dataset = copy_dataset(tmp_path / "dataset", ["biden"])
    (dataset / "ghost").mkdir()
    (dataset / "ghost" / "note.jpg").write_text("not a picture")
    cv2.imwrite(str(dataset / "ghost" / "wall.png"), np.full((200, 200, 3), 90, np.uint8))
    doc = extract(capsys, dataset, tmp_path / "e.db")
    assert doc["people"] == {"biden": 2} and doc["people_without_faces"] == ["ghost"]
    assert skip_reasons(doc)["ghost/wall.png"] == "no face found"


def test_zero_byte_truncated_and_text_files_are_skipped(capsys, tmp_path) -> None:
    dataset = copy_dataset(tmp_path / "dataset", ["obama"])
    (dataset / "obama" / "zero.jpg").write_bytes(b"")
    data = OBAMA.read_bytes()
    (dataset / "obama" / "cut.jpg").write_bytes(data[: len(data) * 6 // 10])
    (dataset / "obama" / "notes.jpg").write_text("hello, I am text")
    doc = extract(capsys, dataset, tmp_path / "e.db")
    reasons = skip_reasons(doc)
    assert doc["embedded"] == 3
    assert reasons["obama/zero.jpg"] == "empty file (0 bytes)"
    assert reasons["obama/cut.jpg"].startswith("truncated JPEG")
    assert reasons["obama/notes.jpg"].startswith("not a readable image")


def test_a_single_truncated_image_is_one_line(capsys, trained, tmp_path) -> None:
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(OBAMA.read_bytes()[:20000])
    assert main(["recognize", str(cut), "--model", str(trained["model"])]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {cut}: truncated JPEG (the file ends before the image does)"]


# -- formats OpenCV converts: the face is found ---------------------------------------------------


def face_count(recognizer, path: Path) -> int:
    return len(recognizer.find_faces(read_image(path)))


def test_png_with_alpha(recognizer) -> None:
    assert cv2.imread(str(IMAGES / "32bit.png"), cv2.IMREAD_UNCHANGED).shape[2] == 4
    assert face_count(recognizer, IMAGES / "32bit.png") == 1


def test_16_bit_png_and_grayscale(recognizer, tmp_path) -> None:
    grey = cv2.cvtColor(cv2.imread(str(OBAMA)), cv2.COLOR_BGR2GRAY)
    cv2.imwrite(str(tmp_path / "grey.png"), grey)
    deep = cv2.imread(str(OBAMA)).astype(np.uint16) * 257
    cv2.imwrite(str(tmp_path / "deep.png"), deep)
    assert cv2.imread(str(tmp_path / "deep.png"), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    assert face_count(recognizer, tmp_path / "grey.png") == 1
    assert face_count(recognizer, tmp_path / "deep.png") == 1
    assert read_image(tmp_path / "deep.png").dtype == np.uint8


def test_cmyk_jpeg(recognizer, tmp_path) -> None:
    PILImage.open(OBAMA).convert("CMYK").save(tmp_path / "cmyk.jpg")
    assert PILImage.open(tmp_path / "cmyk.jpg").mode == "CMYK"
    assert face_count(recognizer, tmp_path / "cmyk.jpg") == 1


@pytest.mark.parametrize(
    ("orientation", "turn"),
    [
        (6, PILImage.Transpose.ROTATE_90),
        (8, PILImage.Transpose.ROTATE_270),
        (3, PILImage.Transpose.ROTATE_180),
    ],
)
def test_exif_rotated_phone_photo_comes_out_upright(
    recognizer, tmp_path, orientation, turn
) -> None:
    """Pixels stored turned, with the EXIF tag that tells viewers how to turn them back."""
    upright = PILImage.open(OBAMA)
    exif = PILImage.Exif()
    exif[0x0112] = orientation
    upright.transpose(turn).save(tmp_path / "phone.jpg", exif=exif.tobytes(), quality=95)
    image = read_image(tmp_path / "phone.jpg")
    assert image.shape[:2] == (upright.height, upright.width)
    [a] = recognizer.embed_images([image])[0].embeddings
    [b] = recognizer.embed_images([read_image(OBAMA)])[0].embeddings
    assert float(np.linalg.norm(a - b)) < 0.3  # the same face, found upright


# -- size limits ---------------------------------------------------------------------------------


def test_a_20000x20000_jpeg_is_read_at_reduced_size_in_bounded_memory() -> None:
    """Decoding it whole would take 1.2 GB; the child process stays far below."""
    code = (
        "from pipeline.imageio import read_image; "
        f"im = read_image({str(IMAGES / 'huge_20000x20000.jpg')!r}); "
        # VmHWM: this process's peak resident memory (ru_maxrss would include the parent's)
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]; "
        "print(im.shape[0], im.shape[1], hwm)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    height, width, max_rss_kb = (int(v) for v in out.stdout.split())
    assert (height, width) == (5000, 5000)  # 1/4 scale: 25 MP, under MAX_PIXELS
    assert height * width <= MAX_PIXELS and max_rss_kb < 600 * 1024


def test_the_huge_photo_still_gives_its_face(recognizer) -> None:
    assert face_count(recognizer, IMAGES / "huge_20000x20000.jpg") == 1


def test_a_huge_png_is_refused_before_decoding() -> None:
    ok, png = cv2.imencode(".png", np.zeros((16, 16, 3), np.uint8))
    data = bytearray(png.tobytes())
    data[16:24] = (20000).to_bytes(4, "big") + (20000).to_bytes(4, "big")  # IHDR width, height
    with pytest.raises(ImageError, match="400 megapixels, above the 50 MP limit"):
        decode_image(bytes(data), "huge.png")


def test_a_10x10_image_has_no_face(capsys, trained, tmp_path) -> None:
    tiny = tmp_path / "tiny.png"
    cv2.imwrite(str(tiny), cv2.resize(cv2.imread(str(OBAMA)), (10, 10)))
    doc = run_json(capsys, "recognize", str(tiny), "--model", str(trained["model"]), "--no-output")
    assert doc["images"][0]["faces"] == []


# -- paths ---------------------------------------------------------------------------------------


def test_non_ascii_and_space_paths(capsys, tmp_path) -> None:
    dataset = tmp_path / "data set"
    for person, source in (("José Núñez", OBAMA), ("Zoë Ünal", DATASET / "biden" / "biden.jpg")):
        (dataset / person).mkdir(parents=True)
        shutil.copy(source, dataset / person / "photo 1 – été.jpg")
    store, model = tmp_path / "é e.db", tmp_path / "mödel.skops"
    assert extract(capsys, dataset, store)["people"] == {"José Núñez": 1, "Zoë Ünal": 1}
    run_json(capsys, "train-model", "--store", str(store), "--model", str(model))
    out = tmp_path / "out put"
    doc = run_json(capsys, "recognize", str(dataset), "--model", str(model), "--output", str(out))
    named = {Path(i["path"]).parent.name: i["faces"][0]["name"] for i in doc["images"]}
    assert named == {"José Núñez": "José Núñez", "Zoë Ünal": "Zoë Ünal"}
    assert (out / "José Núñez" / "photo 1 – été.jpg").is_file()


def test_a_symlink_loop_does_not_trap_the_walk(capsys, tmp_path) -> None:
    dataset = copy_dataset(tmp_path / "dataset", ["biden"])
    os.symlink(dataset, dataset / "biden" / "loop")  # biden/loop -> dataset
    doc = extract(capsys, dataset, tmp_path / "e.db")
    assert doc["images"] == 2 and doc["people"] == {"biden": 2}


# -- faces ---------------------------------------------------------------------------------------


def test_an_image_with_50_faces(capsys, trained, tmp_path) -> None:
    crops = [cv2.resize(cv2.imread(str(p)), (150, 150)) for p in sorted(BBT.glob("*/*.png"))]
    pad = [
        cv2.copyMakeBorder(c, 25, 25, 25, 25, cv2.BORDER_CONSTANT, value=(255, 255, 255))
        for c in (crops * 2)[:50]
    ]
    mosaic = np.vstack([np.hstack(pad[r * 10 : (r + 1) * 10]) for r in range(5)])
    cv2.imwrite(str(tmp_path / "crowd.jpg"), mosaic)
    doc = run_json(
        capsys,
        "recognize",
        str(tmp_path / "crowd.jpg"),
        "--model",
        str(trained["model"]),
        "--no-output",
    )
    faces = doc["images"][0]["faces"]
    assert len(faces) == 50  # the 300x300 pass alone found 30 in this 2:1 picture
    assert {f["name"] for f in faces} == {"unknown"}  # none of them is enrolled


def test_a_person_folder_with_someone_else_is_flagged(capsys, tmp_path) -> None:
    dataset = copy_dataset(tmp_path / "dataset", ["obama", "biden"])
    shutil.copy(DATASET / "biden" / "biden2.jpg", dataset / "obama" / "not_obama.jpg")
    doc = extract(capsys, dataset, tmp_path / "e.db")
    assert [s["path"] for s in doc["suspects"]] == ["obama/not_obama.jpg"]
    assert doc["suspects"][0]["distance"] > 1.08
    main(["extract-embeddings", "--dataset", str(dataset), "--store", str(tmp_path / "e.db")])
    assert "obama/not_obama.jpg looks like someone else" in capsys.readouterr().out
