"""MiniLM sentence embeddings as a text project's features: opt-in, in the background."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from fastapi.testclient import TestClient

from activelab.studio import features as studio_features
from activelab.studio.app import create_app
from activelab.studio.project import init_project, load_project, read_admin_token

from .conftest import bearer, synthetic_texts, truth_of

PROBLEM = studio_features.minilm_problem()


def _project(tmp_path: Path, n: int = 24, **settings: Any) -> Any:
    texts, _ = synthetic_texts(n)
    tmp_path.mkdir(parents=True, exist_ok=True)
    data = tmp_path / "items.csv"
    data.write_text("text\n" + "\n".join(texts) + "\n", encoding="utf-8")
    settings.setdefault("retrain_every", 6)
    settings.setdefault("min_labels", 6)
    return init_project(tmp_path / "p", data, ("pos", "neg", "mid"), name="p", **settings)


def _label(client: TestClient, headers: dict, n: int) -> None:
    for i in range(n):
        served = client.post("/api/p/p/next", headers=headers).json()
        reply = client.post(
            "/api/p/p/answers",
            headers=headers,
            json={
                "item_id": served["item"]["id"],
                "lease_id": served["lease"]["id"],
                "labels": [truth_of(served["item"]["text"])],
                "idempotency_key": f"k{i}-{served['item']['id']}",
            },
        )
        assert reply.status_code == 200, reply.text


@pytest.mark.slow
@pytest.mark.skipif(PROBLEM is not None, reason=f"MiniLM unavailable: {PROBLEM}")
def test_minilm_features_are_embedded_in_slices_while_tfidf_serves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _project(tmp_path, features="minilm")
    app = create_app(config, start_trainer=False)
    client, headers = TestClient(app), bearer(read_admin_token(config.directory))
    trainer = app.state.studio.trainer
    # One chunk of 8 texts per step, so the steps in between are seen.
    monkeypatch.setattr(studio_features.EmbeddingJob, "CHUNK", 8)
    monkeypatch.setattr(studio_features.EmbeddingJob, "SLICE_SECONDS", 0.0)
    assert trainer.step() == "cold-start"
    status = client.get("/api/p/p", headers=headers).json()["trainer"]["embedding"]
    assert status == {"features": "minilm", "state": "running", "done": 8, "total": 24,
                      "error": None}  # fmt: skip
    assert sp.issparse(trainer.features.matrix)  # TF-IDF serves meanwhile
    assert trainer.has_pending_work
    _label(client, headers, 6)
    assert trainer.step() == "trained"  # the TF-IDF model, while embedding goes on
    assert sp.issparse(trainer.model.features.matrix)
    seen = [trainer.embedding_status["done"]]
    while trainer.embedding_status["state"] != "ready":
        trainer.step()
        seen.append(trainer.embedding_status["done"])
    assert seen == sorted(seen) and seen[-1] == 24
    # Ready: the model is retrained on the embeddings and the queue re-ranked.
    matrix = trainer.features.matrix
    assert isinstance(matrix, np.ndarray) and matrix.shape == (24, 384)
    assert np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-4)
    assert not trainer.has_pending_work
    assert trainer.model is not None and trainer.model.features.matrix is matrix
    info = client.get("/api/p/p", headers=headers).json()
    assert info["features"] == "minilm" and info["model_version"] == 2
    assert any((config.directory / "embeddings").rglob("*"))  # cached by content hash
    # Back to TF-IDF from the admin settings: saved, and the model reads TF-IDF again.
    assert client.put("/api/p/p/settings", headers=headers, json={"features": "tfidf"}).json() == {
        "features": "tfidf"
    }
    assert load_project(config.directory).features == "tfidf"
    trainer.step()
    assert sp.issparse(trainer.features.matrix)
    assert trainer.embedding_status["state"] == "off"


@pytest.mark.skipif(PROBLEM is not None, reason=f"MiniLM unavailable: {PROBLEM}")
def test_cached_embeddings_cost_no_model_call(tmp_path: Path) -> None:
    texts = [f"a short text number {i}" for i in range(12)]
    first = studio_features.minilm_embeddings(texts, tmp_path)
    from activelab.models import SentenceEmbedder

    embedder = SentenceEmbedder(cache_dir=tmp_path)
    again = embedder.transform(texts)
    assert embedder.n_model_calls_ == 0
    np.testing.assert_allclose(first, again)


def test_settings_refuse_what_cannot_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _project(tmp_path)
    app = create_app(config, start_trainer=False)
    client, headers = TestClient(app), bearer(read_admin_token(config.directory))
    monkeypatch.setattr(studio_features, "minilm_problem", lambda: "needs torch: pip install x")
    reply = client.put("/api/p/p/settings", headers=headers, json={"features": "minilm"})
    assert reply.status_code == 422 and "needs torch" in reply.json()["detail"]
    reply = client.put("/api/p/p/settings", headers=headers, json={"features": "bert"})
    assert reply.status_code == 422
    with pytest.raises(ValueError, match="needs torch"):
        _project(tmp_path / "other", features="minilm")


def test_an_unavailable_embedder_leaves_tfidf_serving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _project(tmp_path)
    app = create_app(config, start_trainer=False)
    client, headers = TestClient(app), bearer(read_admin_token(config.directory))
    trainer = app.state.studio.trainer
    assert trainer.step() == "cold-start"
    monkeypatch.setattr(studio_features, "minilm_problem", lambda: None)
    assert client.put("/api/p/p/settings", headers=headers, json={"features": "minilm"}).is_success
    monkeypatch.setattr(studio_features, "minilm_problem", lambda: "needs torch: pip install x")
    trainer.step()
    status = client.get("/api/p/p", headers=headers).json()["trainer"]["embedding"]
    assert status["state"] == "unavailable" and "needs torch" in status["error"]
    assert sp.issparse(trainer.features.matrix)
    assert not trainer.has_pending_work
