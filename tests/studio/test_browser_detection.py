"""The detection page in a real browser: draw a box with the mouse, set its class, export.

Playwright drives Debian's Chromium against a real server of a detection project without
a detector (import order): a drag draws a box, key 2 gives the selected box the second
class, Enter submits, and the COCO export holds that box in image pixels. The page's
box geometry module is checked in the same browser against hand-computed answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("skimage")

from activelab.studio.project import init_project

from . import test_browser as shared
from .test_detection import CLASSES, write_scenes

browser = shared.browser
page = shared.page
_serve = shared._serve

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def det_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("studio-det")
    write_scenes(root / "images", n=2)
    config = init_project(root / "project", root / "images", CLASSES, task="detection", name="det")
    with _serve(config) as served:
        yield served


def test_draw_a_box_set_its_class_submit_and_export(page: Any, det_studio: dict[str, Any]) -> None:
    base, api = det_studio["base"], det_studio["api"]
    page.goto(f"{base}/login?token={det_studio['token']}")
    page.wait_for_url("**/p/det/label")
    page.wait_for_selector("#canvas[data-ready]:not([data-ready=''])")
    assert page.is_visible("#no-detector")  # the page says why images come in import order
    item = page.get_attribute("#canvas", "data-ready")
    box = page.locator("#canvas").bounding_box()
    per_pixel = box["width"] / 48  # the canvas shows the 48-pixel image scaled
    start = (box["x"] + 10 * per_pixel, box["y"] + 8 * per_pixel)
    end = (box["x"] + 30 * per_pixel, box["y"] + 20 * per_pixel)
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(start[0] + 40, start[1] + 30, steps=3)
    page.mouse.move(*end, steps=3)
    page.mouse.up()
    assert page.inner_text("#box-count") == "1"
    page.keyboard.press("2")  # the selected box becomes a circle
    assert page.inner_text("#current-class") == CLASSES[1]
    page.keyboard.press("Enter")
    page.wait_for_function(
        f"() => document.querySelector('#canvas').dataset.ready && "
        f"document.querySelector('#canvas').dataset.ready !== '{item}'"
    )
    page.wait_for_function(
        "() => document.querySelector('#sync').textContent === 'all answers saved'"
    )
    coco = api.get("/api/p/det/export?format=coco").json()
    assert len(coco["images"]) == 2 and len(coco["annotations"]) == 1
    annotation = coco["annotations"][0]
    assert annotation["category_name"] == CLASSES[1] and annotation["category_id"] == 1
    assert annotation["bbox"] == pytest.approx([10, 8, 20, 12], abs=0.15)
    assert annotation["provenance"]["annotator"] == "admin"
    assert annotation["provenance"]["source"] == "drawn"
    # The geometry module, in the same browser.
    results = page.evaluate(
        """async () => {
          const g = await import('/static/boxes.js');
          return [
            g.boxFromCorners(30, 20, -5, 4.444, 48, 48),
            g.moveBox({x: 40, y: 1, w: 6, h: 6}, 10, -5, 48, 48),
            g.resizeBox({x: 10, y: 10, w: 10, h: 10}, 'nw', 25, 30, 48, 48),
            g.hitTest([{x: 0, y: 0, w: 40, h: 40}, {x: 5, y: 5, w: 10, h: 10}], 8, 8, 1),
            g.hitTest([{x: 0, y: 0, w: 40, h: 40}], 39.5, 0.5, 1),
            g.hitTest([{x: 0, y: 0, w: 4, h: 4}], 20, 20, 1),
          ];
        }"""
    )
    assert results == [
        {"x": 0, "y": 4.44, "w": 30, "h": 15.56},
        {"x": 42, "y": 0, "w": 6, "h": 6},
        {"x": 20, "y": 20, "w": 5, "h": 10},
        {"index": 1, "part": "body"},
        {"index": 0, "part": "ne"},
        None,
    ]
    assert not page.problems, page.problems
