"""The web page in Debian's Chromium, driven by Playwright: recognize a photo, name an unknown
face, see it recognized on the next upload, rename and delete a person."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from tests.serverkit import WRITE_KEY, gallery_copy, running

pytestmark = pytest.mark.slow
CHROMIUM = Path("/usr/bin/chromium")
# Headless as root, and no calls home: this machine's closed network refuses them.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")


def launch(extra: list[str] | None = None):
    if not CHROMIUM.exists():
        pytest.skip(
            "Debian's chromium is not installed (.ci/run installs it: apt-get install chromium)"
        )
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=FLAGS + (extra or [])
        )
        yield browser
        browser.close()


@pytest.fixture
def browser():
    yield from launch()


@pytest.fixture
def camera_browser():
    """Chromium's fake camera (a moving test pattern), allowed without a prompt."""
    yield from launch(["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"])


def test_the_page_recognizes_and_learns(trained, tmp_path, browser):
    expect = sync_api.expect
    paths = gallery_copy(trained, tmp_path)
    group = str(EXAMPLES / "obama_and_biden.jpg")
    with running(paths) as server:
        page = browser.new_page()
        page.goto(f"{server.url}/#key={WRITE_KEY}")
        assert "key=" not in page.url  # taken out of the address bar and history
        expect(page.locator("#people li")).to_have_count(6)
        expect(page.locator('#people li[data-name="obama"] img')).to_have_attribute(
            "src", re.compile("^blob:")
        )

        page.set_input_files("#file", group)
        names = page.locator("#names li")
        expect(names).to_have_count(3)
        texts = names.all_inner_texts()
        assert sorted(t.split(" ")[0] for t in texts) == ["biden", "obama", "unknown"]
        expect(page.locator(".box")).to_have_count(3)

        page.click(".box.unknown")
        page.fill("#enrol-name", "malia")
        page.click("#enrol button[type=submit]")
        expect(page.locator('#people li[data-name="malia"]')).to_have_count(1)

        page.set_input_files("#file", [])
        page.set_input_files("#file", group)  # the next upload
        expect(page.locator("#names li", has_text="malia")).to_have_count(1)
        assert sorted(t.split(" ")[0] for t in names.all_inner_texts()) == [
            "biden",
            "malia",
            "obama",
        ]
        expect(page.locator(".box.unknown")).to_have_count(0)

        page.once("dialog", lambda d: d.accept("malia_obama"))
        page.click('#people li[data-name="malia"] button:text("Rename")')
        expect(page.locator('#people li[data-name="malia_obama"]')).to_have_count(1)
        page.once("dialog", lambda d: d.accept())
        page.click('#people li[data-name="malia_obama"] button:text("Delete")')
        expect(page.locator('#people li[data-name="malia_obama"]')).to_have_count(0)
        expect(page.locator("#people li")).to_have_count(6)

        page.click("#audit")  # the dataset audit: the bundled photos are clean
        expect(page.locator("#audit-summary")).to_have_text(re.compile(r"^11 photos of 6 people"))
        expect(page.locator('#findings li[data-kind="someone_else"]')).to_have_count(0)
    assert not (paths["dataset"] / "malia_obama").exists()


def test_the_page_asks_for_a_key(trained, tmp_path, browser):
    expect = sync_api.expect
    paths = gallery_copy(trained, tmp_path)
    with running(paths) as server:
        page = browser.new_page()
        page.goto(server.url + "/")
        expect(page.locator("#keyform")).to_be_visible()
        expect(page.locator("#message")).to_have_text(re.compile("API key"))
        page.fill("#key", WRITE_KEY)
        page.click("#keyform button")
        expect(page.locator("#people li")).to_have_count(6)


def test_the_camera_panel_posts_frames(trained, tmp_path, camera_browser):
    expect = sync_api.expect
    paths = gallery_copy(trained, tmp_path)
    with running(paths) as server, server.client() as client:
        page = camera_browser.new_page()
        page.goto(f"{server.url}/#key={WRITE_KEY}")
        page.click("#camera")
        expect(page.locator("#camera")).to_have_text("Stop camera")
        expect(page.locator("#live")).to_be_visible()

        def frames_recognized() -> float:
            text = client.get("/metrics").text
            line = 'facerec_requests_total{method="POST",route="/api/v1/recognize",status="200"}'
            return next((float(x.split()[-1]) for x in text.splitlines() if x.startswith(line)), 0)

        page.wait_for_function("document.querySelector('#video').videoWidth > 0")
        deadline = time.monotonic() + 30
        while frames_recognized() < 3 and time.monotonic() < deadline:
            time.sleep(0.3)
        assert frames_recognized() >= 3
        page.click("#camera")
        expect(page.locator("#live")).to_be_hidden()


def test_the_cluster_index_opens_from_disk(tmp_path, browser, capsys):
    from tests.test_cluster import cluster, library

    doc = cluster(capsys, library(tmp_path / "photos"))
    page = browser.new_page()
    page.goto((tmp_path / "report" / "index.html").as_uri())
    groups = page.locator("section.group")
    sync_api.expect(groups).to_have_count(len(doc["groups"]))
    for g in doc["groups"]:
        sheet = page.locator(f"section[data-group='{g['id']}'] img")
        sync_api.expect(sheet).to_have_js_property("complete", True)
        assert sheet.evaluate("img => img.naturalWidth") == 112 * g["faces"]
    first = page.locator("section.group a").first
    href = first.get_attribute("href")
    assert (tmp_path / "report" / href).resolve().is_file()  # links reach the photos
