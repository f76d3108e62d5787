"""The JSON API of the contract: shapes, auth (401/403), CSRF, uploads, images, escaping."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from activelab.studio import auth, db
from activelab.studio.app import create_app
from activelab.studio.project import read_admin_token

from .conftest import bearer, synthetic_texts, truth_of

SCRIPT = '<script>alert("x")</script> & <b>bold</b> #0'


@pytest.fixture
def api(make_project):
    """(client, config, admin token, annotator token) of a 30-item project."""
    texts, _ = synthetic_texts(30)
    texts[0] = SCRIPT
    config = make_project(texts, min_labels=6, retrain_every=6, budget=20)
    app = create_app(config, start_trainer=False)
    client = TestClient(app)
    admin = read_admin_token(config.directory)
    created = client.post(
        "/api/p/proj/annotators", headers=bearer(admin), json={"name": "ann", "role": "annotator"}
    )
    assert created.status_code == 201
    with client:
        yield client, config, admin, created.json()["token"]
    app.state.studio.engine.dispose()


def answer(client, token, served, labels=None, key=None, **extra):
    body = {
        "item_id": served["item"]["id"],
        "lease_id": served["lease"]["id"],
        "labels": labels if labels is not None else [truth_of(served["item"]["text"])],
        "skipped": False,
        "seconds": 2.5,
        "idempotency_key": key or f"{served['lease']['id']}-key",
    }
    body.update(extra)
    return client.post("/api/p/proj/answers", headers=bearer(token), json=body)


def test_health_and_openapi(api) -> None:
    client, *_ = api
    assert client.get("/health").json() == {"status": "UP"}
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/p/{project}/next", "/api/p/{project}/answers", "/api/p/{project}/export"} <= set(
        paths
    )
    assert client.get("/docs").status_code == 200


def test_project_info_shape(api) -> None:
    client, _config, _admin, token = api
    info = client.get("/api/p/proj", headers=bearer(token)).json()
    assert set(info) >= {
        "name",
        "task",
        "labels",
        "multi_label",
        "budget",
        "n_items",
        "n_labeled",
        "n_skipped",
        "model_version",
        "strategy",
        "me",
        "stopping",
        "curve",
    }
    assert info["labels"] == ["pos", "neg", "mid"] and info["n_items"] == 30
    assert info["me"] == {"name": "ann", "role": "annotator"}
    assert info["model_version"] == 0 and info["curve"] == []
    assert info["stopping"] == [
        {
            "name": "budget",
            "value": 0,
            "threshold": 20,
            "stop": False,
            "description": "stop after 20 labelled items",
        }
    ]


def test_next_answer_undo_round_trip(api) -> None:
    client, _config, admin, token = api
    served = client.post("/api/p/proj/next", headers=bearer(token)).json()
    assert set(served) == {"item", "suggestion", "llm_suggestion", "reason", "lease", "progress"}
    assert set(served["item"]) >= {"id", "text"}
    assert served["suggestion"] is None  # no model yet
    assert set(served["reason"]) == {"strategy", "model_version", "score", "probability"}
    assert set(served["lease"]) == {"id", "expires_at"}
    assert served["progress"] == {"labelled": 0, "budget": 20}
    first = answer(client, token, served, key="k1")
    assert first.status_code == 200 and first.json()["duplicate"] is False
    again = answer(client, token, served, key="k1")
    assert again.json() == {"answer_id": first.json()["answer_id"], "duplicate": True}
    conflict = answer(client, token, served, key="k2")
    assert conflict.status_code == 409 and "already" in conflict.json()["detail"]
    info = client.get("/api/p/proj", headers=bearer(token)).json()
    assert info["n_labeled"] == 1
    undone = client.post("/api/p/proj/undo", headers=bearer(token)).json()
    assert undone["item"]["id"] == served["item"]["id"]
    assert undone["lease"]["id"] != served["lease"]["id"]
    assert client.get("/api/p/proj", headers=bearer(token)).json()["n_labeled"] == 0
    history = client.get("/api/p/proj/answers?limit=5", headers=bearer(admin))
    assert history.json() == [] and history.headers["x-total-count"] == "0"
    redo = answer(client, token, undone, key="k3")
    assert redo.status_code == 200
    missing = client.post("/api/p/proj/undo", headers=bearer(admin))
    assert missing.status_code == 404


def test_skips_and_label_validation(api) -> None:
    client, _config, admin, token = api
    served = client.post("/api/p/proj/next", headers=bearer(token)).json()
    wrong = answer(client, token, served, labels=["nope"])
    assert wrong.status_code == 422 and "unknown label" in wrong.json()["detail"]
    two = answer(client, token, served, labels=["pos", "neg"])
    assert two.status_code == 422
    skip = answer(client, token, served, labels=[], skipped=True)
    assert skip.status_code == 200
    assert client.get("/api/p/proj", headers=bearer(admin)).json()["n_skipped"] == 1
    bad = client.post(
        "/api/p/proj/answers", headers=bearer(token), json={"item_id": 1, "labels": ["pos"]}
    )
    assert bad.status_code == 422


def test_item_text_is_returned_as_data(api) -> None:
    client, _config, admin, token = api
    served = client.post("/api/p/proj/next", headers=bearer(admin)).json()
    assert served["item"]["text"] == SCRIPT
    response = client.post("/api/p/proj/next", headers=bearer(token))
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_responses_say_how_long_the_server_took(api) -> None:
    client, _config, _admin, token = api
    response = client.post("/api/p/proj/next", headers=bearer(token))
    name, _, duration = response.headers["server-timing"].partition(";dur=")
    assert name == "app" and 0 < float(duration) < 60_000


def test_suggestions_and_curve_after_a_retrain(api) -> None:
    client, config, _admin, token = api
    for _ in range(6):
        served = client.post("/api/p/proj/next", headers=bearer(token)).json()
        answer(client, token, served).raise_for_status()
    client.app.state.studio.trainer.step()
    client.app.state.studio.trainer.step()
    info = client.get("/api/p/proj", headers=bearer(token)).json()
    assert info["model_version"] == 1
    assert info["curve"][0]["model_version"] == 1 and info["curve"][0]["n_labeled"] == 6
    names = [row["name"] for row in info["stopping"]]
    assert names[0] == "budget" and "stabilizing_predictions" in names
    for row in info["stopping"]:
        assert set(row) == {"name", "value", "threshold", "stop", "description"}
    served = client.post("/api/p/proj/next", headers=bearer(token)).json()
    suggestion = served["suggestion"]
    assert suggestion["label"] in config.labels
    assert sum(suggestion["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
    assert suggestion["confidence"] == max(suggestion["probabilities"].values())
    assert served["reason"]["strategy"] == "diverse_minibatch"
    assert served["reason"]["model_version"] == 1


def test_401_without_or_with_an_unknown_token(api) -> None:
    client, *_ = api
    for method, path in (("get", ""), ("post", "/next"), ("get", "/export")):
        response = getattr(client, method)(f"/api/p/proj{path}")
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
    assert client.get("/api/p/proj", headers=bearer("forged")).status_code == 401


def test_403_for_annotators_on_admin_routes(api) -> None:
    client, _config, _admin, token = api
    for method, path in (
        ("get", "/export"),
        ("get", "/agreement"),
        ("get", "/annotators"),
        ("post", "/annotators"),
        ("put", "/answers/1"),
        ("post", "/import"),
    ):
        kwargs = {"json": {"name": "x", "labels": ["pos"]}} if method in ("post", "put") else {}
        response = getattr(client, method)(f"/api/p/proj{path}", headers=bearer(token), **kwargs)
        assert response.status_code == 403, path
    assert (
        client.get("/api/p/proj/answers?annotator=admin", headers=bearer(token)).status_code == 403
    )


def test_403_for_a_token_of_another_project(api, make_project) -> None:
    client, _config, _admin, token = api
    other = make_project(["x", "y"], labels=("a", "b"), name="other")
    other_token = read_admin_token(other.directory)
    assert client.get("/api/p/proj", headers=bearer(other_token)).status_code == 403
    assert client.post("/api/p/proj/next", headers=bearer(other_token)).status_code == 403
    assert client.get("/api/p/other", headers=bearer(token)).status_code == 404


def test_cookie_login_needs_the_csrf_header_on_unsafe_methods(api) -> None:
    client, _config, _admin, token = api
    client.cookies.clear()
    login = client.get(f"/login?token={token}", follow_redirects=False)
    assert login.status_code == 303 and login.headers["location"] == "/p/proj/label"
    cookies = login.headers.get_list("set-cookie")
    token_cookie = next(c for c in cookies if c.startswith(auth.TOKEN_COOKIE))
    assert "HttpOnly" in token_cookie and "SameSite=lax" in token_cookie
    csrf = client.cookies[auth.CSRF_COOKIE]
    assert client.get("/api/p/proj").json()["me"]["name"] == "ann"  # reads need no CSRF
    refused = client.post("/api/p/proj/next")
    assert refused.status_code == 403 and "X-CSRF-Token" in refused.json()["detail"]
    wrong = client.post("/api/p/proj/next", headers={auth.CSRF_HEADER: "guess"})
    assert wrong.status_code == 403
    served = client.post("/api/p/proj/next", headers={auth.CSRF_HEADER: csrf})
    assert served.status_code == 200
    assert client.get("/login?token=nope", follow_redirects=False).status_code == 401
    client.get("/logout")
    assert client.get("/api/p/proj").status_code == 401


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/p/proj/label",
        "https://evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        "p/proj/review",
        "/\tevil",
    ],
)
def test_login_ignores_a_next_that_leaves_the_site(api, target: str) -> None:
    client, _config, _admin, token = api
    login = client.get("/login", params={"token": token, "next": target}, follow_redirects=False)
    assert login.status_code == 303 and login.headers["location"] == "/p/proj/label"


def test_login_follows_a_next_path_on_this_site(api) -> None:
    client, _config, admin, _token = api
    for target in ("/p/proj/review", "/p/proj/admin?tab=people#export"):
        login = client.get(
            "/login", params={"token": admin, "next": target}, follow_redirects=False
        )
        assert login.status_code == 303 and login.headers["location"] == target
    # The sign-in form sends next=location.pathname: the page the person came from.
    page = client.get("/p/proj/admin")
    assert 'name="next"' in page.text


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40) | st.from_regex(r"\A[/\\]{1,3}[a-z.:@%/\\ ]{0,12}\Z"))
def test_safe_next_only_ever_returns_a_path_of_this_site(target: str) -> None:
    from urllib.parse import urljoin, urlsplit

    result = auth.safe_next(target, "/p/proj/label")
    assert result in (target, "/p/proj/label")
    # Resolved against the site, as a browser resolves a Location header, it stays there.
    resolved = urlsplit(urljoin("https://studio.example/p/proj/label", result))
    assert (resolved.scheme, resolved.netloc) == ("https", "studio.example")
    assert result.startswith("/") and not result.startswith("//") and "\\" not in result


def test_an_admin_revokes_a_token_and_it_gets_401_at_once(api) -> None:
    client, _config, admin, token = api
    assert client.post("/api/p/proj/next", headers=bearer(token)).status_code == 200  # cached
    people = client.get("/api/p/proj/annotators", headers=bearer(admin)).json()
    ann = next(p for p in people if p["name"] == "ann")
    assert ann["revoked_at"] is None
    revoked = client.delete(f"/api/p/proj/annotators/{ann['id']}/token", headers=bearer(admin))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    for method, path in (("get", ""), ("post", "/next"), ("get", "/answers")):
        response = getattr(client, method)(f"/api/p/proj{path}", headers=bearer(token))
        assert response.status_code == 401, path
    assert client.get(f"/login?token={token}", follow_redirects=False).status_code == 401
    people = client.get("/api/p/proj/annotators", headers=bearer(admin)).json()
    ann = next(p for p in people if p["name"] == "ann")
    assert ann["revoked_at"] == revoked.json()["revoked_at"] and ann["n_answers"] == 0
    # Revoking again changes nothing.
    again = client.delete(f"/api/p/proj/annotators/{ann['id']}/token", headers=bearer(admin))
    assert again.status_code == 200 and again.json()["revoked_at"] == ann["revoked_at"]
    # A new token works; the revoked one stays refused.
    issued = client.post(f"/api/p/proj/annotators/{ann['id']}/token", headers=bearer(admin))
    assert issued.status_code == 200
    fresh = issued.json()["token"]
    assert fresh != token and issued.json()["revoked_at"] is None
    assert client.get("/api/p/proj", headers=bearer(fresh)).json()["me"]["name"] == "ann"
    assert client.get("/api/p/proj", headers=bearer(token)).status_code == 401


def test_a_new_token_replaces_the_old_one_at_once(api) -> None:
    client, _config, admin, token = api
    people = client.get("/api/p/proj/annotators", headers=bearer(admin)).json()
    ann = next(p for p in people if p["name"] == "ann")
    assert client.get("/api/p/proj", headers=bearer(token)).status_code == 200
    issued = client.post(f"/api/p/proj/annotators/{ann['id']}/token", headers=bearer(admin))
    assert client.get("/api/p/proj", headers=bearer(token)).status_code == 401
    assert client.get("/api/p/proj", headers=bearer(issued.json()["token"])).status_code == 200


def test_token_management_is_for_admins_of_this_project(api, make_project) -> None:
    client, _config, admin, token = api
    people = client.get("/api/p/proj/annotators", headers=bearer(admin)).json()
    ids = {p["name"]: p["id"] for p in people}
    for method in ("post", "delete"):
        url = f"/api/p/proj/annotators/{ids['admin']}/token"
        assert getattr(client, method)(url, headers=bearer(token)).status_code == 403
        assert (
            getattr(client, method)(
                "/api/p/proj/annotators/999/token", headers=bearer(admin)
            ).status_code
            == 404
        )
    # The last admin with a working token cannot be locked out.
    last = client.delete(f"/api/p/proj/annotators/{ids['admin']}/token", headers=bearer(admin))
    assert last.status_code == 409 and "last admin" in last.json()["detail"]
    assert client.get("/api/p/proj", headers=bearer(admin)).status_code == 200
    second = client.post(
        "/api/p/proj/annotators", headers=bearer(admin), json={"name": "boss", "role": "admin"}
    ).json()
    gone = client.delete(
        f"/api/p/proj/annotators/{ids['admin']}/token", headers=bearer(second["token"])
    )
    assert gone.status_code == 200
    assert client.get("/api/p/proj", headers=bearer(admin)).status_code == 401
    # Someone of another project in the same database is out of reach.
    other = make_project(["x", "y"], labels=("a", "b"), name="other")
    engine = client.app.state.studio.engine
    with db.read_session(engine) as session:
        from sqlalchemy import select

        outsider = session.scalar(
            select(db.Annotator.id).where(
                db.Annotator.name == "admin",
                db.Annotator.project_id != client.app.state.studio.project_id,
            )
        )
    assert outsider is not None and other.name == "other"
    url = f"/api/p/proj/annotators/{outsider}/token"
    assert client.delete(url, headers=bearer(second["token"])).status_code == 404
    assert (
        client.get("/api/p/other", headers=bearer(read_admin_token(other.directory))).status_code
        == 403
    )


def test_a_token_revoked_by_another_process_is_refused_after_the_cache_time(
    api, monkeypatch
) -> None:
    from activelab.studio import api as api_module

    client, _config, _admin, token = api
    state = client.app.state.studio
    assert client.get("/api/p/proj", headers=bearer(token)).status_code == 200
    with db.write_session(state.engine) as session:  # as `activelab studio` would, elsewhere
        person = auth.caller_for_token(session, token)
        auth.revoke_token(session, state.project_id, person.id)
    assert client.get("/api/p/proj", headers=bearer(token)).status_code == 200  # remembered
    monkeypatch.setattr(api_module, "CALLER_TTL", 0.0)
    assert client.get("/api/p/proj", headers=bearer(token)).status_code == 401


def test_a_lookup_that_raced_a_revocation_is_not_remembered(api) -> None:
    client, *_ = api
    state = client.app.state.studio
    caller = auth.Caller(41, "x", "annotator", state.project_id)
    generation = state.generation
    state.forget(41)  # a revocation committed while the lookup ran
    state.remember("key", caller, generation)
    assert state.remembered("key") is None
    state.remember("key", caller, state.generation)
    assert state.remembered("key") == caller
    state.forget(41)
    assert state.remembered("key") is None


def test_admins_manage_annotators_answers_and_agreement(api) -> None:
    client, _config, admin, token = api
    people = client.get("/api/p/proj/annotators", headers=bearer(admin)).json()
    assert [(p["name"], p["role"]) for p in people] == [("admin", "admin"), ("ann", "annotator")]
    assert "token" not in people[0]
    taken = client.post("/api/p/proj/annotators", headers=bearer(admin), json={"name": "ann"})
    assert taken.status_code == 409
    bad = client.post(
        "/api/p/proj/annotators", headers=bearer(admin), json={"name": "z", "role": "root"}
    )
    assert bad.status_code == 422
    served = client.post("/api/p/proj/next", headers=bearer(token)).json()
    answer(client, token, served, labels=["pos"]).raise_for_status()
    mine = client.get("/api/p/proj/answers", headers=bearer(token)).json()
    assert [a["annotator"] for a in mine] == ["ann"]
    assert set(mine[0]) >= {"id", "item_id", "item", "labels", "seconds", "created_at", "reason"}
    corrected = client.put(
        f"/api/p/proj/answers/{mine[0]['id']}", headers=bearer(admin), json={"labels": ["mid"]}
    )
    assert corrected.json()["labels"] == ["mid"] and corrected.json()["reviewed"] is True
    assert client.get("/api/p/proj/agreement", headers=bearer(admin)).json() == {
        "cohen": [],
        "fleiss": {"kappa": None, "n": 0},
        "annotators": [],
    }


def test_import_adds_good_rows_and_names_bad_lines(api) -> None:
    client, _config, admin, _token = api
    data = b'{"text": "new one"}\n{"txt": "typo"}\n{"text": "new two", "id": "n2"}\n'
    response = client.post(
        "/api/p/proj/import",
        headers=bearer(admin),
        files={"file": ("more.jsonl", data, "application/json")},
    )
    assert response.status_code == 200
    assert response.json()["added"] == 2
    assert [(e["line"], e["field"]) for e in response.json()["errors"]] == [(2, "text")]
    assert client.get("/api/p/proj", headers=bearer(admin)).json()["n_items"] == 32
    missing = client.post("/api/p/proj/import", headers=bearer(admin), data={"x": "1"})
    assert missing.status_code == 422


def test_uploads_over_the_limit_are_refused(make_project) -> None:
    config = make_project(["a", "b"], max_upload_bytes=1000)
    client = TestClient(create_app(config, start_trainer=False))
    admin = read_admin_token(config.directory)
    big = b"text\n" + b"x" * 2000 + b"\n"
    response = client.post(
        "/api/p/proj/import", headers=bearer(admin), files={"file": ("big.csv", big, "text/csv")}
    )
    assert response.status_code == 413
    assert client.get("/api/p/proj", headers=bearer(admin)).json()["n_items"] == 2

    def chunks():  # no Content-Length: the limit is counted while reading
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="x.csv"\r\n\r\n'
        for _ in range(10):
            yield b"y" * 500
        yield b"\r\n--b--\r\n"

    streamed = client.post(
        "/api/p/proj/import",
        headers={**bearer(admin), "Content-Type": "multipart/form-data; boundary=b"},
        content=chunks(),
    )
    assert streamed.status_code == 413
    client.app.state.studio.engine.dispose()


def _image_project(tmp_path: Path, db_url: str):
    from PIL import Image

    from activelab.studio.project import init_project

    images = tmp_path / "pictures"
    for i, colour in enumerate([(255, 0, 0), (0, 0, 255), (0, 255, 0)]):
        (images / "set").mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), colour).save(images / "set" / f"{i}.png")
    return init_project(
        tmp_path / "images", images, ["red", "blue", "green"], name="img", db=db_url
    )


def test_images_are_served_and_confined_to_the_project(tmp_path: Path, db_url: str) -> None:
    config = _image_project(tmp_path, db_url)
    assert config.task == "image" and (config.directory / "media" / "set" / "0.png").is_file()
    admin = read_admin_token(config.directory)
    client = TestClient(create_app(config, start_trainer=False))
    served = client.post("/api/p/img/next", headers=bearer(admin)).json()
    url = served["item"]["image_url"]
    assert url == f"/api/p/img/items/{served['item']['id']}/image" and "text" not in served["item"]
    image = client.get(url, headers=bearer(admin))
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert client.get(url).status_code == 401
    secret = tmp_path / "secret.png"
    secret.write_bytes(image.content)
    (config.directory / "media" / "link.png").symlink_to(secret)
    engine = client.app.state.studio.engine
    for path in ("../secret.png", "media/link.png", str(secret)):
        with db.write_session(engine) as session:
            session.execute(update(db.Item).where(db.Item.id == 2).values(image_path=path))
        response = client.get("/api/p/img/items/2/image", headers=bearer(admin))
        assert response.status_code == 403, path
    assert client.get("/api/p/img/items/999/image", headers=bearer(admin)).status_code == 404
    engine.dispose()


def test_image_projects_train_on_pixel_features(tmp_path: Path, db_url: str) -> None:
    config = _image_project(tmp_path, db_url)
    app = create_app(config, start_trainer=False)
    worker = app.state.studio.trainer
    worker.step()
    assert worker.features.matrix.shape == (3, 16 * 16 + 24)
    assert json.loads(json.dumps(worker.features.embedding.tolist()))  # finite numbers
    app.state.studio.engine.dispose()
