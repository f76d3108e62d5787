"""Detection projects: images as items, box answers, a detector's ranking and proposals,
COCO export with provenance."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

pytest.importorskip("skimage")
pytest.importorskip("PIL")

from PIL import Image

import activelab as al
from activelab.studio import detection
from activelab.studio.app import create_app
from activelab.studio.db import Item, read_session
from activelab.studio.project import ProjectConfig, init_project, load_project, read_admin_token
from activelab.studio.segmentation import load_image

from .conftest import bearer

CLASSES = al.vision.SHAPE_CLASSES  # rectangle, circle, triangle, ellipse
#: How full each class fills its box: the test detector's class evidence.
FILL = np.array([1.0, np.pi / 4, 0.5, 0.74])
DETECTOR = f"{__name__}:make_detector"


def make_detector(labels: tuple[str, ...] = CLASSES) -> Any:
    """A detector for shape scenes: each dark blob is a box; its class probabilities come
    from how much of the box it fills (circles and ellipses look alike: uncertain)."""
    from scipy import ndimage

    assert tuple(labels) == CLASSES

    def detect(image: np.ndarray) -> dict[str, np.ndarray]:
        grey = image if image.ndim == 2 else image.mean(axis=-1)
        blobs, _ = ndimage.label(grey < 0.8)
        boxes, proba = [], []
        for i, where in enumerate(ndimage.find_objects(blobs)):
            if where is None:
                continue
            rows, cols = where
            area = int((blobs[where] == i + 1).sum())
            height, width = rows.stop - rows.start, cols.stop - cols.start
            if area < 12:
                continue
            logits = -(((area / (height * width) - FILL) / 0.1) ** 2)
            p = np.exp(logits - logits.max())
            boxes.append([cols.start, rows.start, cols.stop, rows.stop])
            proba.append(p / p.sum())
        proba_array = np.array(proba).reshape(-1, len(CLASSES))
        return {
            "boxes": np.array(boxes, dtype=float).reshape(-1, 4),
            "scores": proba_array.max(axis=1),
            "proba": proba_array,
        }

    return detect


def labelled_detector() -> Any:
    """A factory that takes no labels (the studio calls it without)."""
    return make_detector(CLASSES)


def not_callable() -> int:
    """A broken factory: returns no detector."""
    return 3


def raising() -> Any:
    """A broken factory: raises."""
    raise RuntimeError("weights missing")


def bad_output() -> Any:
    """A factory whose detector returns something DetectorAdapter cannot read."""
    return lambda image: [1, 2, 3]


def write_scenes(folder: Path, n: int = 5, size: int = 48) -> Any:
    scenes = al.vision.shape_scenes(n_images=n, size=size, random_state=0)
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(scenes.images):
        Image.fromarray(np.round(image * 255).astype(np.uint8)).save(folder / f"scene{i}.png")
    return scenes


def make(tmp_path: Path, db_url: str, **settings: Any) -> tuple[Any, TestClient, dict]:
    write_scenes(tmp_path / "images")
    config = init_project(
        tmp_path / "det", tmp_path / "images", CLASSES, task="detection", db=db_url, **settings
    )
    client = TestClient(create_app(config, start_trainer=False))
    return config, client, bearer(read_admin_token(config.directory))


def serve(client: TestClient, headers: dict) -> dict:
    reply = client.post("/api/p/det/next", headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.json()


def answer(client: TestClient, headers: dict, served: dict, boxes: Any, key: str, **extra: Any):
    return client.post(
        "/api/p/det/answers",
        headers=headers,
        json={
            "item_id": served["item"]["id"],
            "lease_id": served["lease"]["id"],
            "labels": [],
            "annotation": None if boxes is None else {"boxes": boxes},
            "idempotency_key": key,
            **extra,
        },
    )


def image_paths(client: TestClient) -> list[str]:
    """The project's images in import order."""
    with read_session(client.app.state.studio.engine) as session:
        return list(session.scalars(select(Item.image_path).order_by(Item.position)))


def test_init_without_detector_serves_in_import_order(tmp_path, db_url) -> None:
    config, client, headers = make(tmp_path, db_url)
    info = client.get("/api/p/det", headers=headers).json()
    assert info["task"] == "detection" and info["detector"] is None and info["n_items"] == 5
    assert config.strategy == "entropy" and config.model_name == "detector"
    assert client.app.state.studio.trainer.step() is None  # nothing to rank
    served = serve(client, headers)
    assert served["item"]["external_id"] == "scene0.png" and served["suggestion"] is None
    assert served["item"]["meta"] == {"width": 48, "height": 48}
    view = client.get(f"/api/p/det/items/{served['item']['id']}/detection", headers=headers)
    assert view.json() == {
        "width": 48,
        "height": 48,
        "classes": list(CLASSES),
        "detector": None,
        "proposals": [],
        "previous": None,
    }
    page = client.get("/p/det/label", headers=headers)
    assert "detection.js" in page.text and "No detector is set" in page.text


def test_box_answers_are_validated_stored_once_and_undone(tmp_path, db_url) -> None:
    _, client, headers = make(tmp_path, db_url)
    served = serve(client, headers)
    box = {"x": 4, "y": 5.5, "w": 10, "h": 8, "label": "circle"}
    for bad, says in [
        ({**box, "x": 40}, "inside"),
        ({**box, "y": -1}, "inside"),
        ({**box, "w": 0}, "positive"),
        ({**box, "label": "car"}, "unknown class"),
        ({**box, "h": "8"}, "numbers"),
        ({**box, "source": "model"}, "source"),
        ({**box, "confidence": 2}, "confidence"),
    ]:
        reply = answer(client, headers, served, [bad], "k0")
        assert reply.status_code == 422 and says in reply.json()["detail"], (bad, reply.text)
    reply = client.post("/api/p/det/answers", headers=headers, json={
        "item_id": served["item"]["id"], "lease_id": served["lease"]["id"], "labels": [],
        "annotation": {"spans": []}, "idempotency_key": "k0"})  # fmt: skip
    assert reply.status_code == 422 and "boxes" in reply.json()["detail"]
    first = answer(client, headers, served, [box], "k1")
    again = answer(client, headers, served, [box], "k1")
    assert first.status_code == again.status_code == 200, first.text
    assert again.json() == {**first.json(), "duplicate": True}
    stored = client.get("/api/p/det/answers", headers=headers).json()
    assert len(stored) == 1 and stored[0]["labels"] == ["circle"]
    assert stored[0]["annotation"]["boxes"] == [{**box, "source": "drawn", "confidence": None}]
    correction = client.put(f"/api/p/det/answers/{stored[0]['id']}", headers=headers,
                            json={"labels": ["circle"]})  # fmt: skip
    assert correction.status_code == 422 and "box answers" in correction.json()["detail"]
    # Undo: the image comes back, with the withdrawn boxes to edit.
    back = client.post("/api/p/det/undo", headers=headers).json()
    assert back["item"]["id"] == served["item"]["id"]
    view = client.get(f"/api/p/det/items/{back['item']['id']}/detection", headers=headers).json()
    assert view["previous"] == [{**box, "source": "drawn", "confidence": None}]
    empty = answer(client, headers, back, [], "k2")  # nothing of these classes in the image
    assert empty.status_code == 200
    coco = client.get("/api/p/det/export?format=coco", headers=headers).json()
    assert coco["annotations"] == [] and len(coco["images"]) == 5


def test_detector_ranks_by_box_entropy_proposes_and_exports(tmp_path, db_url) -> None:
    config, client, headers = make(tmp_path, db_url, detector=DETECTOR, min_score=0.3)
    trainer = client.app.state.studio.trainer
    assert trainer.step() == "trained" and trainer.step() is None
    info = client.get("/api/p/det", headers=headers).json()
    assert info["model_version"] == 1 and info["detector"] == DETECTOR
    # The score al.vision gives each image, computed directly.
    paths = image_paths(client)
    adapter = al.vision.DetectorAdapter(make_detector(), len(CLASSES))
    images = [load_image(config.directory / p) for p in paths]
    expected = dict(
        zip(paths, al.vision.detection_scores(adapter, images, "entropy", "sum"), strict=True)
    )
    served_scores, first = [], None
    for key in range(5):
        served = serve(client, headers)
        first = first or served
        assert served["reason"]["strategy"] == "entropy"
        assert served["reason"]["model_version"] == 1
        image_path = f"media/{served['item']['external_id']}"
        assert np.isclose(served["reason"]["score"], expected[image_path])
        served_scores.append(served["reason"]["score"])
        if served is not first:
            answer(client, headers, served, None, f"s{key}", skipped=True)
    assert served_scores == sorted(served_scores, reverse=True)
    assert len(set(np.round(served_scores, 6))) > 1  # a real ranking, not ties
    # Proposals: the detector's boxes of confidence >= min_score, most confident first.
    found = adapter.detect(load_image(config.directory / f"media/{first['item']['external_id']}"))
    view = client.get(f"/api/p/det/items/{first['item']['id']}/detection", headers=headers).json()
    assert view["detector"] == DETECTOR
    proposals = view["proposals"]
    assert len(proposals) == int((found.scores >= 0.3).sum()) >= 1
    top = int(np.argmax(found.scores))
    x0, y0, x1, y1 = found.boxes[top]
    assert proposals[0] == {
        "x": x0, "y": y0, "w": x1 - x0, "h": y1 - y0,
        "label": CLASSES[int(found.proba[top].argmax())],
        "confidence": round(float(found.scores[top]), 4),
    }  # fmt: skip
    accepted = {**proposals[0], "source": "proposal"}
    drawn = {"x": 0, "y": 0, "w": 3.25, "h": 2, "label": "triangle"}
    assert answer(client, headers, first, [accepted, drawn], "a1").status_code == 200
    coco = client.get("/api/p/det/export?format=coco", headers=headers).json()
    assert [c["name"] for c in coco["categories"]] == list(CLASSES)
    assert [image["file_name"] for image in coco["images"]] == paths
    assert coco["info"]["detectors"]["1"]["detector"] == DETECTOR
    first_image = next(i for i in coco["images"] if i["file_name"].endswith(
        first["item"]["external_id"]))  # fmt: skip
    kept, hand = coco["annotations"]
    assert kept["image_id"] == hand["image_id"] == first_image["id"]
    assert kept["bbox"] == [proposals[0][k] for k in "xywh"]
    assert kept["category_id"] == CLASSES.index(proposals[0]["label"])
    assert hand["bbox"] == [0, 0, 3.25, 2] and hand["area"] == 6.5
    assert hand["category_name"] == "triangle" and "score" not in hand
    provenance = kept["provenance"]
    assert provenance["source"] == "proposal"
    assert provenance["confidence"] == proposals[0]["confidence"]
    assert provenance["detector"] == DETECTOR and provenance["model_version"] == 1
    assert provenance["strategy"] == "entropy" and provenance["annotator"] == "admin"
    assert np.isclose(provenance["score"], first["reason"]["score"]) and provenance["at"]
    assert hand["provenance"]["source"] == "drawn"
    for other in ("jsonl", "csv", "png"):
        reply = client.get(f"/api/p/det/export?format={other}", headers=headers)
        assert reply.status_code == 422 and "coco" in reply.json()["detail"]


def test_stability_uncertainty_matches_al_vision(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'studio.db'}"
    config, client, headers = make(
        tmp_path, url, detector=DETECTOR, strategy="stability_uncertainty", seed=4
    )
    assert client.app.state.studio.trainer.step() == "trained"
    paths = image_paths(client)
    adapter = al.vision.DetectorAdapter(make_detector(), len(CLASSES), random_state=4)
    images = [load_image(config.directory / p) for p in paths]
    expected = al.vision.detection_scores(adapter, images, "stability_uncertainty", random_state=4)
    served = serve(client, headers)
    assert served["reason"]["strategy"] == "stability_uncertainty"
    assert np.isclose(served["reason"]["score"], expected.max())


def test_the_detector_setting_is_checked_and_changes_the_queue(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'studio.db'}"
    config, client, headers = make(tmp_path, url)
    trainer = client.app.state.studio.trainer

    def put(spec: str) -> Any:
        return client.put("/api/p/det/settings", headers=headers, json={"detector": spec})

    for spec, says in [
        ("no colon", "module:function"),
        ("activelab_no_such_module:make", "importing module 'activelab_no_such_module'"),
        (f"{__name__}:missing", "has no callable 'missing'"),
        (f"{__name__}:not_callable", "not a callable"),
        (f"{__name__}:raising", "weights missing"),
        (f"{__name__}:bad_output", "scene0.png"),
    ]:
        reply = put(spec)
        assert reply.status_code == 422 and says in reply.json()["detail"], (spec, reply.text)
    assert put(DETECTOR).json() == {"detector": DETECTOR}
    assert load_project(config.directory).detector == DETECTOR
    assert trainer.step() == "trained"
    served = serve(client, headers)
    assert served["reason"]["model_version"] == 1 and served["suggestion"]["boxes"]
    # Back to no detector: import order, no proposals.
    assert put("").json() == {"detector": None}
    assert trainer.step() == "cold-start"
    served = serve(client, headers)
    assert served["reason"]["strategy"] == "import order" and served["suggestion"] is None
    view = client.get(f"/api/p/det/items/{served['item']['id']}/detection", headers=headers)
    assert view.json()["proposals"] == [] and view.json()["detector"] is None
    # The same detector again, or after a restart, keeps its version; another is a new one.
    assert put(DETECTOR).status_code == 200 and trainer.step() == "trained"
    fresh = create_app(load_project(config.directory), start_trainer=False)
    assert fresh.state.studio.trainer.step() == "trained"
    assert client.get("/api/p/det", headers=headers).json()["model_version"] == 1
    assert put(f"{__name__}:make_detector ").status_code == 200  # spaces are trimmed
    with_labels = f"{__name__}:labelled_detector"
    assert put(with_labels).status_code == 200 and trainer.step() == "trained"
    assert client.get("/api/p/det", headers=headers).json()["model_version"] == 2
    assert detection.detector_versions(config.directory)[2]["detector"] == with_labels
    # An imported image gets its size, is detected and ranked with the same detector.
    media = config.directory / "media"
    (media / "new.png").write_bytes((media / "scene0.png").read_bytes())
    upload = {"file": ("more.csv", b"image,id\nmedia/new.png,extra\nmedia/gone.png,x\n")}
    reply = client.post("/api/p/det/import", headers=headers, files=upload).json()
    assert reply["added"] == 1 and "gone.png" in reply["errors"][0]["message"]
    assert trainer.step() == "trained"
    assert "media/new.png" in trainer._vision.scores
    assert client.get("/api/p/det", headers=headers).json()["model_version"] == 2


def test_settings_are_validated(tmp_path) -> None:
    def config(**settings: Any) -> ProjectConfig:
        return ProjectConfig(tmp_path, "d", CLASSES, task="detection", **settings).validate()

    with pytest.raises(ValueError, match="does not score images"):
        config(strategy="margin")
    with pytest.raises(ValueError, match="multi_label"):
        config(multi_label=True)
    with pytest.raises(ValueError, match="module:function"):
        config(detector="a b")
    with pytest.raises(ValueError, match="min_score"):
        config(min_score=1.5)
    with pytest.raises(ValueError, match="detector is for detection"):
        ProjectConfig(tmp_path, "t", ("a", "b"), detector=DETECTOR).validate()
    with pytest.raises(ValueError, match="needs its images"):
        init_project(tmp_path / "none", None, CLASSES, task="detection")
    write_scenes(tmp_path / "images", n=1)
    with pytest.raises(ValueError, match="the factory raised RuntimeError: weights missing"):
        init_project(
            tmp_path / "broken", tmp_path / "images", CLASSES, task="detection",
            detector=f"{__name__}:raising",
        )  # fmt: skip
    assert not (tmp_path / "broken").exists()  # nothing written


def test_cli_init_with_a_detector(tmp_path) -> None:
    from typer.testing import CliRunner

    from activelab.studio import cli

    write_scenes(tmp_path / "images", n=2)
    result = CliRunner().invoke(cli.app, [
        "init", str(tmp_path / "p"), "--task", "detection", "--data", str(tmp_path / "images"),
        "--labels", ",".join(CLASSES), "--detector", DETECTOR])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert load_project(tmp_path / "p").detector == DETECTOR
    result = CliRunner().invoke(cli.app, [
        "init", str(tmp_path / "q"), "--task", "detection", "--data", str(tmp_path / "images"),
        "--labels", ",".join(CLASSES), "--detector", "activelab_nope:make"])  # fmt: skip
    assert result.exit_code == 2 and "activelab_nope" in result.output


def test_check_annotation_rounds_and_clips() -> None:
    config = ProjectConfig(Path("."), "x", ("car", "person"), task="detection")
    image = SimpleNamespace(meta={"width": 10, "height": 8}, image_path="a.png")
    given = {"x": 0.123, "y": 1, "w": 9.877, "h": 7, "label": "person", "source": "proposal"}
    canonical, used = detection.check_annotation(
        config, image, {"boxes": [{**given, "confidence": 0.91234}]}
    )
    rounded = {**given, "x": 0.12, "y": 1.0, "w": 9.88, "h": 7.0, "confidence": 0.9123}
    assert canonical == {"boxes": [rounded]} and used == ["person"]
