"""Segmentation projects: regions as items, painted answers, the pixel forest, exports."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

pytest.importorskip("skimage")
pytest.importorskip("PIL")

from PIL import Image

import activelab as al
from activelab.studio import segmentation
from activelab.studio.app import create_app
from activelab.studio.project import ProjectConfig, init_project, read_admin_token

from .conftest import bearer

CLASSES = ("background", "nucleus")


def write_images(folder: Path, n: int = 3, size: int = 32) -> list[np.ndarray]:
    """``n`` RGB images: dark background, one bright square (the 'nucleus'); their truths."""
    folder.mkdir(parents=True, exist_ok=True)
    truths = []
    for i in range(n):
        image = np.full((size, size, 3), 30, dtype=np.uint8)
        truth = np.zeros((size, size), dtype=np.int64)
        low = 4 + 4 * i
        image[low : low + 12, low : low + 12] = (220, 200, 90)
        truth[low : low + 12, low : low + 12] = 1
        Image.fromarray(image).save(folder / f"img{i}.png")
        truths.append(truth)
    return truths


def make(tmp_path: Path, db_url: str, **settings: Any) -> Any:
    truths = write_images(tmp_path / "images")
    settings = {"regions": "grid", "grid_size": 8, "min_labels": 2, "retrain_every": 2, **settings}
    config = init_project(
        tmp_path / "seg", tmp_path / "images", CLASSES, task="segmentation", db=db_url, **settings
    )
    client = TestClient(create_app(config, start_trainer=False))
    return config, client, bearer(read_admin_token(config.directory)), truths


def next_region(client: TestClient, headers: dict) -> dict:
    reply = client.post("/api/p/seg/next", headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.json()


def answer(client: TestClient, headers: dict, served: dict, annotation: Any, key: str) -> Any:
    return client.post(
        "/api/p/seg/answers",
        headers=headers,
        json={
            "item_id": served["item"]["id"],
            "lease_id": served["lease"]["id"],
            "labels": [],
            "annotation": annotation,
            "idempotency_key": key,
        },
    )


def truth_annotation(view: dict, truth: np.ndarray) -> dict:
    """Every region of the image with its majority true class."""
    regions = np.repeat(view["regions"][0::2], view["regions"][1::2]).reshape(truth.shape)
    out = []
    for r in range(int(regions.max()) + 1):
        share = truth[regions == r].mean()
        out.append({"region": r, "label": CLASSES[int(share >= 0.5)]})
    return {"regions": out}


def test_init_cuts_images_into_region_items(tmp_path, db_url) -> None:
    config, client, headers, _ = make(tmp_path, db_url)
    info = client.get("/api/p/seg", headers=headers).json()
    assert info["task"] == "segmentation" and info["n_items"] == 3 * 16
    assert config.strategy == "entropy" and (config.directory / "regions").is_dir()
    served = next_region(client, headers)
    assert served["item"]["image_url"].endswith("/image") and "region" in served["item"]["meta"]
    view = client.get(f"/api/p/seg/items/{served['item']['id']}/segmentation", headers=headers)
    data = view.json()
    assert data["width"] == data["height"] == 32 and data["prediction"] is None
    assert sum(data["regions"][1::2]) == 32 * 32 and data["labels"] == [-1, 32 * 32]


def test_answers_are_checked_and_stored_once(tmp_path, db_url) -> None:
    _, client, headers, _ = make(tmp_path, db_url)
    served = next_region(client, headers)
    asked = served["item"]["meta"]["region"]
    other = (asked + 1) % 16
    bad = answer(
        client, headers, served, {"regions": [{"region": other, "label": "nucleus"}]}, "k0"
    )
    assert bad.status_code == 422 and "asked region" in bad.json()["detail"]
    bad = answer(client, headers, served, {"regions": [{"region": asked, "label": "cell"}]}, "k0")
    assert bad.status_code == 422 and "unknown class" in bad.json()["detail"]
    stroke = {"x": 40, "y": 3, "radius": 2, "label": "nucleus"}
    bad = answer(client, headers, served, {"regions": [{"region": asked, "label": "nucleus"}],
                                           "strokes": [stroke]}, "k0")  # fmt: skip
    assert bad.status_code == 422 and "inside" in bad.json()["detail"]
    good = {
        "regions": [
            {"region": asked, "label": "nucleus"},
            {"region": other, "label": "background"},
        ],
        "strokes": [{"x": 1, "y": 1, "radius": 1.5, "label": "nucleus"}],
    }
    first = answer(client, headers, served, good, "k1")
    again = answer(client, headers, served, good, "k1")
    assert first.status_code == again.status_code == 200
    assert again.json() == {**first.json(), "duplicate": True}
    view = client.get(f"/api/p/seg/items/{served['item']['id']}/segmentation", headers=headers)
    labels = np.repeat(view.json()["labels"][0::2], view.json()["labels"][1::2]).reshape(32, 32)
    regions = np.load(Path(tmp_path / "seg") / served["item"]["meta"]["regions"])
    assert np.all(labels[regions == other][labels[regions == other] >= 0] >= 0)
    assert labels[1, 1] == 1 and labels[0, 1] == 1  # the brush disc
    # Undo withdraws the answer: its pixels are unlabelled again.
    assert client.post("/api/p/seg/undo", headers=headers).status_code == 200
    view = client.get(f"/api/p/seg/items/{served['item']['id']}/segmentation", headers=headers)
    assert view.json()["labels"] == [-1, 32 * 32]


def test_paint_matches_a_plain_loop() -> None:
    regions = al.vision.grid_regions((6, 6), 3)
    label_map = np.full((6, 6), -1)
    annotation = {
        "regions": [{"region": 0, "label": "b"}, {"region": 3, "label": "a"}],
        "strokes": [{"x": 5, "y": 0, "radius": 1, "label": "a"}],
    }
    segmentation.paint(label_map, regions, annotation, ("a", "b"))
    expected = np.full((6, 6), -1)
    for y in range(6):
        for x in range(6):
            if regions[y, x] == 0:
                expected[y, x] = 1
            if regions[y, x] == 3:
                expected[y, x] = 0
            if (x - 5) ** 2 + y**2 <= 1:
                expected[y, x] = 0
    assert np.array_equal(label_map, expected)
    assert segmentation.rle(expected.ravel()) and sum(segmentation.rle(expected)[1::2]) == 36


def test_the_forest_trains_ranks_by_region_entropy_and_exports(tmp_path, db_url) -> None:
    _, client, headers, truths = make(tmp_path, db_url)
    trainer = client.app.state.studio.trainer
    assert trainer.step() == "cold-start"
    done_images = set()
    for key in range(20):
        if len(done_images) == 2:
            break
        served = next_region(client, headers)
        view = client.get(
            f"/api/p/seg/items/{served['item']['id']}/segmentation", headers=headers
        ).json()
        image = int(Path(served["item"]["meta"]["regions"]).stem.split("img")[-1].split(".")[0])
        if image in done_images:
            client.post("/api/p/seg/answers", headers=headers, json={
                "item_id": served["item"]["id"], "lease_id": served["lease"]["id"],
                "labels": [], "skipped": True, "idempotency_key": f"s{key}"})  # fmt: skip
            continue
        done_images.add(image)
        reply = answer(client, headers, served, truth_annotation(view, truths[image]), f"a{key}")
        assert reply.status_code == 200, reply.text
    assert trainer.step() == "trained"
    served = next_region(client, headers)
    assert served["reason"]["strategy"] == "entropy" and served["reason"]["model_version"] == 1
    # The served region is the open, not fully labelled region of highest mean entropy.
    job = trainer._vision
    pool = job._pool
    per_pixel = [
        al.vision.pixel_scores(job.model.predict_proba(im), "entropy") for im in pool.images
    ]
    scores = al.vision.region_scores(pool.index, per_pixel, "mean")
    served_region = pool.region_of_item[served["item"]["id"]]
    assert np.isclose(served["reason"]["score"], scores[served_region])
    view = client.get(f"/api/p/seg/items/{served['item']['id']}/segmentation", headers=headers)
    assert view.json()["prediction"] is not None
    # PNG masks: one per labelled image, equal to the majority-class regions.
    archive = zipfile.ZipFile(io.BytesIO(client.get("/api/p/seg/export?format=png",
                                                    headers=headers).content))  # fmt: skip
    manifest = json.loads(archive.read("provenance.json"))
    assert manifest["classes"] == list(CLASSES) and len(manifest["images"]) == len(done_images)
    entry = manifest["images"][0]
    assert entry["answers"][0]["strategy"] and entry["answers"][0]["annotator"] == "admin"
    mask = np.asarray(Image.open(io.BytesIO(archive.read(entry["mask"]))))
    assert set(np.unique(mask)) <= {0, 1, segmentation.IGNORE} and (mask == 1).any()
    coco = client.get("/api/p/seg/export?format=coco", headers=headers).json()
    assert [c["name"] for c in coco["categories"]] == list(CLASSES)
    assert len(coco["images"]) == 3
    nuclei = [a for a in coco["annotations"] if a["category_id"] == 1]
    assert nuclei and all(a["provenance"] for a in nuclei)
    assert {"strategy", "model_version", "score", "annotator", "at"} <= set(
        nuclei[0]["provenance"][0]
    )
    assert client.get("/api/p/seg/export?format=jsonl", headers=headers).status_code == 422


def test_class_balanced_and_slic_settings(tmp_path) -> None:
    with pytest.raises(ValueError, match="does not score image regions"):
        ProjectConfig(
            tmp_path, "s", CLASSES, task="segmentation", strategy="margin_ratio"
        ).validate()
    with pytest.raises(ValueError, match="regions must be one of"):
        ProjectConfig(tmp_path, "s", CLASSES, task="segmentation", regions="hex").validate()
    with pytest.raises(ValueError, match="multi_label"):
        ProjectConfig(tmp_path, "s", CLASSES, task="segmentation", multi_label=True).validate()
    write_images(tmp_path / "images", n=1)
    config = init_project(
        tmp_path / "slic", tmp_path / "images", CLASSES, task="segmentation", n_regions=20,
        class_balanced=True,
    )  # fmt: skip
    regions = np.load(next((config.directory / "regions").glob("*.npy")))
    assert 5 <= regions.max() + 1 <= 60 and config.class_balanced
