"""The segmentation page in a real browser: pick a class, click superpixels, export masks.

Playwright drives Debian's Chromium against a real server of a segmentation project
(grid regions of 8 pixels on 32-pixel images): key 2 picks the second class, two clicks
give two regions that class, Enter submits, and the PNG mask of the export holds
exactly those regions.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

pytest.importorskip("skimage")

from PIL import Image

from activelab.studio.project import init_project

from . import test_browser as shared
from .test_segmentation import CLASSES, write_images

browser = shared.browser
page = shared.page
_serve = shared._serve

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def seg_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("studio-seg")
    write_images(root / "images", n=2)
    config = init_project(
        root / "project", root / "images", CLASSES, task="segmentation", name="seg",
        regions="grid", grid_size=8, min_labels=50,
    )  # fmt: skip
    with _serve(config) as served:
        served["directory"] = config.directory
        yield served


def test_pick_a_class_click_two_superpixels_submit_and_export(
    page: Any, seg_studio: dict[str, Any]
) -> None:
    base, api = seg_studio["base"], seg_studio["api"]
    page.goto(f"{base}/login?token={seg_studio['token']}")
    page.wait_for_url("**/p/seg/label")
    page.wait_for_selector("#canvas[data-ready]:not([data-ready=''])")
    item = page.get_attribute("#canvas", "data-ready")
    asked = int(page.inner_text("#region-id"))
    page.keyboard.press("2")
    assert page.inner_text("#current-class") == "nucleus"
    box = page.locator("#canvas").bounding_box()
    # Grid cells of 8 px on a 32 px image: a 4 × 4 grid. Click cells (0, 0) and (row 1, col 2).
    cell = box["width"] / 4
    page.mouse.click(box["x"] + cell * 0.5, box["y"] + cell * 0.5)
    page.mouse.click(box["x"] + cell * 2.5, box["y"] + cell * 1.5)
    page.keyboard.press("Enter")
    page.wait_for_function(
        f"() => document.querySelector('#canvas').dataset.ready && "
        f"document.querySelector('#canvas').dataset.ready !== '{item}'"
    )
    page.wait_for_function(
        "() => document.querySelector('#sync').textContent === 'all answers saved'"
    )
    archive = zipfile.ZipFile(io.BytesIO(api.get("/api/p/seg/export?format=png").content))
    manifest = json.loads(archive.read("provenance.json"))
    assert len(manifest["images"]) == 1
    entry = manifest["images"][0]
    assert entry["answers"][0]["annotator"] == "admin"
    mask = np.asarray(Image.open(io.BytesIO(archive.read(entry["mask"]))))
    expected = np.full((32, 32), 255)
    expected[0:8, 0:8] = 1
    expected[8:16, 16:24] = 1
    row, col = divmod(asked, 4)
    expected[row * 8 : row * 8 + 8, col * 8 : col * 8 + 8] = 1  # Enter gave the asked one too
    assert np.array_equal(mask, expected)
