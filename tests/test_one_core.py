"""One recognition core: the CLI, the Python API and the server give the same JSON for the same
gallery and image, to the last digit (they all call core.FaceRecognizer)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline import FaceRec
from tests.conftest import DATASET, EXAMPLES, run_json

pytest.importorskip("fastapi", reason="the serve extra is not installed")

from pipeline.server.jobs import Limits  # noqa: E402
from tests.serverkit import in_process  # noqa: E402

API = "/api/v1"
IMAGES = ["obama_and_biden.jpg", "kit_with_rose.jpg", "bbt1.jpg"]


def _post(client, route: str, **files: Path) -> dict:
    sent = {field: (path.name, path.read_bytes()) for field, path in files.items()}
    answer = client.post(f"{API}/{route}", files=sent)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_cli_api_and_server_answer_alike(capsys, trained, recognizer, tmp_path) -> None:
    model, store = str(trained["model"]), str(trained["store"])
    api = FaceRec(model)
    with in_process(trained, recognizer, tmp_path, Limits(rate=0)) as server:
        for name in IMAGES:
            image = EXAMPLES / name
            cli = run_json(capsys, "recognize", str(image), "-r", model, "--no-output")
            [cli_image] = cli["images"]
            by_api = [f.to_dict() for f in api.recognize(str(image))]
            by_server = _post(server, "recognize", file=image)["faces"]
            assert cli_image["faces"] == by_api == by_server, name
            assert {f["by"] for f in by_server} == {"recognizer"}
        names = sorted(f["name"] for f in by_server)
        assert names == ["unknown"] * 4  # bbt1: four strangers, in all three

        a, b = EXAMPLES / "obama1.jpg", DATASET / "obama" / "obama.jpg"
        cli = run_json(capsys, "verify", str(a), str(b))
        by_api = api.verify(str(a), str(b)).to_dict()
        by_server = _post(server, "verify", a=a, b=b)
        assert {k: v for k, v in cli.items() if k not in ("image_a", "image_b")} == by_api
        assert by_api == by_server and by_api["same"] is True

        cli = run_json(capsys, "find", str(a), "-e", store, "-k", "3")["neighbours"]
        by_api = [n.to_dict() for n in api.find(str(a), store, 3)]
        by_server = _post(server, "find?k=3", file=a)["neighbours"]
        assert cli == by_api == [{k: v for k, v in n.items() if k != "id"} for n in by_server]
        assert [n["person"] for n in cli] == ["obama"] * 3
