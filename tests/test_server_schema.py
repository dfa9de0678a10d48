"""Property-based requests built from the server's own OpenAPI schema (schemathesis): whatever
a client sends that the schema allows, or nearly allows, the answer is never a 5xx."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import BBT, EXAMPLES

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed")

from pipeline.server.jobs import Limits  # noqa: E402
from pipeline.server.problems import CODES  # noqa: E402
from tests.serverkit import WRITE_KEY, in_process  # noqa: E402

PHOTOS = [EXAMPLES / "obama1.jpg", EXAMPLES / "kit_with_rose.jpg", BBT / "penny" / "penny1.png"]


@pytest.fixture(scope="module")
def api_client(trained, recognizer, tmp_path_factory):
    dest = tmp_path_factory.mktemp("schema")
    with in_process(trained, recognizer, dest, Limits(rate=0), debounce=0.5) as client:
        yield client


@pytest.fixture(scope="module")
def api(api_client):
    return schemathesis.openapi.from_asgi("/openapi.json", api_client.app)


def test_no_request_gets_a_server_error(api):
    """Every operation, 30 generated requests each (hypothesis through schemathesis's
    strategies; its pytest plugin does not run on this pytest)."""
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 13
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=30, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def no_server_error(case):
            response = case.call(headers={"X-API-Key": WRITE_KEY})
            assert response.status_code < 500, (case.method, case.formatted_path, response.text)

        no_server_error()


@given(data=st.data())
@settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_damaged_and_random_uploads_get_4xx_not_5xx(api_client, data):
    """Real photos cut short or with bytes overwritten, and random bytes, to every image
    endpoint: a face list, or a 4xx JSON error; never a 5xx."""
    source = data.draw(st.sampled_from(PHOTOS)).read_bytes()
    how = data.draw(st.sampled_from(["cut", "flip", "random", "header"]))
    if how == "cut":
        body = source[: data.draw(st.integers(0, len(source)))]
    elif how == "flip":
        body = bytearray(source)
        for _ in range(data.draw(st.integers(1, 20))):
            body[data.draw(st.integers(0, len(body) - 1))] = data.draw(st.integers(0, 255))
        body = bytes(body)
    elif how == "header":
        body = source[:64] + data.draw(st.binary(max_size=2048))
    else:
        body = data.draw(st.binary(max_size=4096))
    route = data.draw(st.sampled_from(["recognize", "detect", "find", "people/fuzz/faces"]))
    r = api_client.post(f"/api/v1/{route}", files={"file": ("x", body)})
    assert r.status_code < 500, r.text
    assert r.status_code in (200, 201) or r.json()["error"] in CODES
