"""PNG masks and COCO JSON for annotation tools."""

from __future__ import annotations

import json

import numpy as np
import pytest

import activelab.vision as V


def test_png_round_trip(tmp_path):
    mask = np.arange(20).reshape(4, 5) % 7
    V.save_mask_png(mask, tmp_path / "a.png")
    np.testing.assert_array_equal(V.load_mask_png(tmp_path / "a.png"), mask)
    wide = np.array([[0, 300], [65535, 2]])
    V.save_mask_png(wide, tmp_path / "b.png")
    np.testing.assert_array_equal(V.load_mask_png(tmp_path / "b.png"), wide)
    with pytest.raises(ValueError, match="unlabelled"):
        V.save_mask_png(np.array([[-1, 0]]), tmp_path / "c.png")


def test_mask_to_coco_polygons_boxes_and_areas():
    from skimage.draw import polygon as fill

    mask = np.zeros((20, 24), int)
    mask[2:6, 3:9] = 1
    mask[10:18, 12:20] = 2
    mask[12:14, 2:4] = 1
    anns = V.mask_to_coco(mask, image_id=3, start_id=10)
    assert [a["id"] for a in anns] == [10, 11, 12]
    assert sorted(a["category_id"] for a in anns) == [1, 1, 2]
    for ann in anns:
        x, y, w, h = ann["bbox"]
        region = np.zeros_like(mask, bool)
        region[int(y) : int(y + h), int(x) : int(x + w)] = True
        assert ann["area"] == int((mask[region] == ann["category_id"]).sum())
        # the polygon, rasterised, gives back the component
        xy = np.array(ann["segmentation"][0]).reshape(-1, 2)
        drawn = np.zeros_like(mask, bool)
        rr, cc = fill(xy[:, 1] - 0.5, xy[:, 0] - 0.5, mask.shape)
        drawn[rr, cc] = True
        assert (drawn & region).sum() >= 0.9 * ann["area"]
    dataset = V.coco_dataset(
        [{"id": 3, "file_name": "x.png", "width": 24, "height": 20}], anns, ["bg", "a", "b"]
    )
    assert json.loads(json.dumps(dataset))["categories"][2] == {"id": 2, "name": "b"}
    with pytest.raises(ValueError, match="unknown image"):
        V.coco_dataset([{"id": 4, "file_name": "x", "width": 1, "height": 1}], anns, ["a"])


def test_detections_to_coco():
    found = V.Detections(
        np.array([[1, 2, 5, 8.0], [0, 0, 1, 1.0]]),
        np.array([0.9, 0.1]),
        np.array([[0.1, 0.9], [0.6, 0.4]]),
    )
    anns = V.detections_to_coco(found, image_id=1, min_score=0.5)
    assert anns == [
        {
            "id": 1,
            "image_id": 1,
            "category_id": 1,
            "bbox": [1.0, 2.0, 4.0, 6.0],
            "area": 24.0,
            "score": 0.9,
            "iscrowd": 0,
        }
    ]
