"""Leases, overlap, expiry, rankings (cold start and strategy) and the background trainer."""

from __future__ import annotations

import threading
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import select, update

import activelab as al
from activelab.studio import answers, auth, db, queue, trainer
from activelab.studio.db import Item, Lease, Project, read_session, write_session
from activelab.studio.features import text_features

from .conftest import synthetic_texts, truth_of


class Studio:
    """A project with its engine and a few annotators, driven through the services."""

    def __init__(self, config) -> None:
        self.config = config
        self.engine = db.connect(config.url)
        with read_session(self.engine) as session:
            self.project_id = session.scalar(select(Project.id).where(Project.name == config.name))
        self.people: dict[str, int] = {}
        self.keys = 0

    def person(self, name: str) -> int:
        if name not in self.people:
            with write_session(self.engine) as session:
                person, _ = auth.add_annotator(session, self.project_id, name, "annotator")
                session.flush()
                self.people[name] = person.id
        return self.people[name]

    def next(self, name: str, now=None):
        person = self.person(name)
        with write_session(self.engine) as session:
            pair = queue.lease_next(session, self.config, self.project_id, person, now)
            return None if pair is None else (pair.item.id, pair.lease_id, pair.item.text)

    def answer(self, name: str, served, labels=None, skipped=False):
        item_id, lease_id, text = served
        self.keys += 1
        person = self.person(name)
        with write_session(self.engine) as session:
            answer_id, _ = answers.record_answer(
                session,
                self.config,
                self.project_id,
                person,
                item_id=item_id,
                lease_id=lease_id,
                labels=[] if skipped else (labels or [truth_of(text)]),
                skipped=skipped,
                seconds=1.0,
                idempotency_key=f"key-{self.keys}",
            )
            return answer_id

    def label(self, name: str, n: int) -> None:
        for _ in range(n):
            self.answer(name, self.next(name))

    def close(self) -> None:
        self.engine.dispose()


@pytest.fixture
def studio(make_project):
    made = []

    def factory(n=30, **settings):
        texts, _ = synthetic_texts(n)
        made.append(Studio(make_project(texts, **settings)))
        return made[-1]

    yield factory
    for each in made:
        each.close()


def test_two_annotators_never_get_the_same_item(studio) -> None:
    s = studio(n=6)
    served = {name: [] for name in ("ann", "bob", "cy")}
    for _ in range(2):
        for name in served:
            served[name].append(s.next(name)[0])
    everything = [i for items in served.values() for i in items]
    assert len(set(everything)) == 6
    assert s.next("zed") is None  # every item is leased
    # Two open items per annotator at most: a third call serves an open one again,
    # the least recently served first.
    for name, items in served.items():
        assert s.next(name)[0] == items[0]
        assert s.next(name)[0] == items[1]


def test_an_item_locked_by_a_rerank_is_waited_for_not_reported_missing(studio) -> None:
    """A re-rank rewrites every open item's priority in one transaction; meanwhile the
    next item must come once it commits, not "nothing left" (PostgreSQL row locks)."""
    s = studio(n=4)
    if s.engine.dialect.name != "postgresql":
        pytest.skip("row locks: SQLite serialises writers with its database lock")
    holder = s.engine.connect()
    transaction = holder.begin()
    holder.execute(select(Item.id).where(Item.project_id == s.project_id).with_for_update())
    got: list = []
    waiting = threading.Thread(target=lambda: got.append(s.next("ann")))
    waiting.start()
    waiting.join(timeout=1.0)
    assert waiting.is_alive() and not got  # it waits for the lock, it does not give up
    transaction.commit()
    holder.close()
    waiting.join(timeout=30)
    assert got and got[0] is not None


def test_an_annotator_never_gets_an_item_twice_and_the_queue_ends(studio) -> None:
    s = studio(n=5)
    seen = []
    while (item := s.next("ann")) is not None:
        seen.append(item[0])
        s.answer("ann", item, skipped=len(seen) == 2)
    assert len(seen) == len(set(seen)) == 5
    # The skipped item goes to someone else; the labelled ones to nobody.
    other = s.next("bob")
    assert other is not None and other[0] == seen[1]
    s.answer("bob", other)
    assert s.next("bob") is None


def test_overlap_serves_an_item_to_n_different_annotators(studio) -> None:
    s = studio(n=2, overlap=2)
    first = [s.next(name) for name in ("ann", "bob", "cy", "dee")]
    # Item 1 to ann and bob, item 2 to cy and dee: each to exactly two people.
    counts = {}
    for item in first:
        counts[item[0]] = counts.get(item[0], 0) + 1
    assert sorted(counts.values()) == [2, 2]
    assert s.next("eve") is None
    for name, item in zip(("ann", "bob", "cy", "dee"), first, strict=True):
        s.answer(name, item)
    with read_session(s.engine) as session:
        assert session.scalars(select(Item.n_labels)).all() == [2, 2]
        assert all(session.scalars(select(Item.done)).all())
    assert s.next("eve") is None


def test_expired_leases_return_their_items(studio) -> None:
    s = studio(n=1, lease_seconds=60)
    held = s.next("ann")
    assert s.next("bob") is None
    later = db.utcnow() + timedelta(seconds=61)
    again = s.next("bob", now=later)
    assert again is not None and again[0] == held[0]
    # ann's answer on her expired lease is still kept (no work is thrown away).
    s.answer("ann", held)
    with read_session(s.engine) as session:
        assert session.get(Item, held[0]).n_labels == 1


def test_an_answer_needs_the_callers_lease_of_that_item(studio) -> None:
    from activelab.studio.errors import StudioError

    s = studio(n=3)
    ann = s.next("ann")
    bob = s.next("bob")
    with pytest.raises(StudioError) as error:
        s.answer("bob", (bob[0], ann[1], bob[2]))
    assert error.value.status == 403
    with pytest.raises(StudioError) as error:
        s.answer("ann", (bob[0], ann[1], bob[2]))
    assert error.value.status == 409
    with pytest.raises(StudioError) as error:
        s.answer("ann", (ann[0], "nope", ann[2]))
    assert error.value.status == 404
    with pytest.raises(StudioError) as error:
        s.answer("ann", ann, labels=["pos", "neg"])
    assert error.value.status == 422


def test_same_idempotency_key_is_stored_once(studio) -> None:
    s = studio(n=2)
    item = s.next("ann")
    kwargs = dict(
        item_id=item[0],
        lease_id=item[1],
        labels=["pos"],
        skipped=False,
        seconds=2.0,
        idempotency_key="same",
    )
    results = []
    person = s.person("ann")
    for _ in range(3):
        with write_session(s.engine) as session:
            results.append(answers.record_answer(session, s.config, s.project_id, person, **kwargs))
    assert results[0][1] is False and results[1:] == [(results[0][0], True)] * 2
    with read_session(s.engine) as session:
        assert len(session.scalars(select(db.Answer.id)).all()) == 1


def test_apply_ranking_orders_the_queue_newest_round_first(studio) -> None:
    s = studio(n=6)
    with read_session(s.engine) as session:
        ids = session.scalars(select(Item.id).order_by(Item.id)).all()
    order = [ids[4], ids[1], ids[5], ids[0], ids[3], ids[2]]
    ranking = queue.Ranking(order, "margin", 3, [0.9] * 6, [1.0] * 6)
    assert queue.apply_ranking(s.engine, s.project_id, ranking, chunk=4) == 1
    assert [s.next(name)[0] for name in ("a", "b", "c")] == order[:3]
    # A newer ranking of only some items puts them first.
    queue.apply_ranking(s.engine, s.project_id, queue.Ranking([ids[2]], "margin", 4, [0.5], [1.0]))
    assert s.next("d")[0] == ids[2]
    with read_session(s.engine) as session:
        lease = session.scalars(select(Lease).order_by(Lease.created_at.desc())).first()
        assert (lease.strategy, lease.model_version, lease.score) == ("margin", 4, 0.5)


def _item_texts(s: Studio) -> tuple[np.ndarray, list[str]]:
    with read_session(s.engine) as session:
        rows = session.execute(select(Item.id, Item.text).order_by(Item.id)).all()
    return np.array([r[0] for r in rows]), [r[1] for r in rows]


def test_cold_start_ranks_by_typiclust_on_the_lsa_features(studio) -> None:
    s = studio(n=90, retrain_every=5, batch_size=6)
    worker = trainer.Trainer(s.config, s.engine, s.project_id)
    assert worker.step() == "cold-start"
    ids, texts = _item_texts(s)
    features = text_features(texts, seed=0, item_ids=ids)
    expected = al.strategies.get("typiclust").query(
        None, features.embedding, 6, random_state=np.random.default_rng(s.config.seed + 1)
    )
    served = [s.next(name)[0] for name in ("a", "b", "c", "d", "e", "f")]
    assert served == [int(ids[i]) for i in expected]
    assert worker.step() is None  # nothing new since


def test_no_model_before_one_label_per_class_and_min_labels(studio) -> None:
    s = studio(n=60, min_labels=4, retrain_every=100)
    worker = trainer.Trainer(s.config, s.engine, s.project_id)
    worker.step()
    texts_by_label = {}
    while len(texts_by_label) < 2:  # label items of two classes only
        item = s.next("ann")
        label = truth_of(item[2])
        if label == "mid":
            s.answer("ann", item, skipped=True)
            continue
        s.answer("ann", item)
        texts_by_label.setdefault(label, 0)
        texts_by_label[label] += 1
    while sum(texts_by_label.values()) < 4:
        item = s.next("ann")
        if truth_of(item[2]) == "mid":
            s.answer("ann", item, skipped=True)
            continue
        s.answer("ann", item)
        texts_by_label[truth_of(item[2])] += 1
    worker.step()
    assert worker.model is None  # 4 labels but no "mid" yet
    while True:
        item = s.next("ann")
        s.answer("ann", item)
        if truth_of(item[2]) == "mid":
            break
    assert worker.step() == "trained"
    with read_session(s.engine) as session:
        assert session.get(Project, s.project_id).model_version == 1


def test_retrain_every_n_answers_bumps_the_version_and_reranks_by_the_strategy(studio) -> None:
    s = studio(n=90, min_labels=6, retrain_every=6, batch_size=8, strategy="margin")
    worker = trainer.Trainer(s.config, s.engine, s.project_id)
    worker.step()
    s.label("ann", 6)
    assert worker.step() == "trained"
    s.label("ann", 5)
    assert worker.step() is None  # 5 < retrain_every new answers
    s.label("ann", 1)
    assert worker.step() == "trained"
    with read_session(s.engine) as session:
        project = session.get(Project, s.project_id)
        assert project.model_version == 2
        labels = answers.training_labels(session, s.project_id, False)
        open_ids = session.scalars(select(Item.id).where(Item.done.is_(False))).all()
        curve = session.scalars(select(db.ModelVersion.n_labeled).order_by(db.ModelVersion.version))
        assert curve.all() == [6, 12]
    # Brute force: margin of the model refit on the same labels, top 8 of the open items.
    ids, texts = _item_texts(s)
    features = text_features(texts, seed=0, item_ids=ids)
    model, *_ = trainer.train_model(features, labels, s.config)
    pool = features.positions(open_ids)
    margins = al.scores.margin(model.predict_proba(pool))
    expected = [int(features.item_ids[pool[i]]) for i in np.argsort(-margins, kind="stable")[:8]]
    served = [s.next(f"p{i}") for i in range(8)]
    assert sorted(item[0] for item in served) == sorted(expected)
    with read_session(s.engine) as session:
        leases = session.scalars(select(Lease).where(Lease.item_id.in_(expected))).all()
        assert {(lease.strategy, lease.model_version) for lease in leases} == {("margin", 2)}
        scores = sorted((lease.score for lease in leases), reverse=True)
        assert np.allclose(scores, np.sort(margins)[::-1][:8])


def test_only_the_head_of_a_ranking_is_written(studio, monkeypatch) -> None:
    s = studio(n=40, min_labels=6, retrain_every=6, batch_size=4, strategy="margin")
    monkeypatch.setattr(trainer, "RANKED_DEPTH", 5)
    worker = trainer.Trainer(s.config, s.engine, s.project_id)
    worker.step()  # cold start: 5 places written in round 1
    with read_session(s.engine) as session:
        rounds = session.execute(select(Item.id, Item.priority, Item.ranked_by)).all()
    ranked = [row for row in rounds if row.ranked_by == "typiclust"]
    assert len(ranked) == 5
    assert all(row.priority > 0 for row in ranked)
    assert all(row.priority <= 0 for row in rounds if row.ranked_by is None)  # import order
    s.label("ann", 6)
    assert worker.step() == "trained"
    with read_session(s.engine) as session:
        fresh = session.scalars(
            select(Item).where(Item.ranked_version == 1).order_by(Item.priority.desc())
        ).all()
    assert len(fresh) == 5 and all(item.suggestion for item in fresh)
    served = [s.next(f"p{i}")[0] for i in range(7)]
    assert served[:5] == [item.id for item in fresh]
    # Then the items the new ranking did not write, in their older order (here: import
    # order, as the 5 cold-start items were among the 6 labelled).
    with read_session(s.engine) as session:
        rest = [session.get(Item, i) for i in served[5:]]
    assert [item.ranked_version for item in rest] == [None, None]
    assert [item.position for item in rest] == sorted(item.position for item in rest)


def test_default_strategy_is_batch_diverse_and_matches_a_direct_query(studio) -> None:
    s = studio(n=120, min_labels=6, retrain_every=6, batch_size=5)
    assert s.config.strategy == "diverse_minibatch"
    worker = trainer.Trainer(s.config, s.engine, s.project_id)
    worker.step()
    s.label("ann", 6)
    assert worker.step() == "trained"
    with read_session(s.engine) as session:
        labels = answers.training_labels(session, s.project_id, False)
        open_ids = session.scalars(
            select(Item.id).where(Item.done.is_(False)).order_by(Item.id)
        ).all()
    ids, texts = _item_texts(s)
    features = text_features(texts, seed=0, item_ids=ids)
    model, rows, y, *_ = trainer.train_model(features, labels, s.config, seed=s.config.seed + 1)
    pool = features.positions(open_ids)
    expected = al.strategies.get("diverse_minibatch").query(
        model, pool, 5, X_labeled=rows, y_labeled=y, random_state=np.random.default_rng(2)
    )
    served = [s.next(f"p{i}")[0] for i in range(5)]
    assert served == [int(features.item_ids[pool[i]]) for i in expected]


def test_multi_label_projects_train_and_rank(studio) -> None:
    s = studio(n=60, multi_label=True, min_labels=6, retrain_every=6, batch_size=5)
    worker = trainer.Trainer(s.config, s.engine, s.project_id)
    worker.step()
    for _ in range(6):
        item = s.next("ann")
        s.answer(
            "ann",
            item,
            labels=[truth_of(item[2]), "pos"] if truth_of(item[2]) != "pos" else ["pos"],
        )
    assert worker.step() == "trained"
    with read_session(s.engine) as session:
        top = session.scalars(
            select(Item).where(Item.done.is_(False)).order_by(Item.priority.desc())
        ).first()
    assert top.ranked_by == "mmc" and top.ranked_version == 1
    assert set(top.suggestion["probabilities"]) == {"pos", "neg", "mid"}
    assert top.suggestion["labels"] == [
        label for label, p in top.suggestion["probabilities"].items() if p >= 0.5
    ]


def test_training_labels_take_the_majority_and_reviews_win(studio) -> None:
    s = studio(n=3, overlap=3)
    items = {name: s.next(name) for name in ("a", "b", "c")}
    s.answer("a", items["a"], labels=["neg"])
    s.answer("b", items["b"], labels=["neg"])
    answer_c = s.answer("c", items["c"], labels=["pos"])
    with read_session(s.engine) as session:
        assert answers.training_labels(session, s.project_id, False) == {items["a"][0]: ("neg",)}
    reviewer = s.person("a")
    with write_session(s.engine) as session:
        answers.correct_answer(session, s.config, s.project_id, answer_c, ["mid"], reviewer)
    with read_session(s.engine) as session:
        assert answers.training_labels(session, s.project_id, False) == {items["a"][0]: ("mid",)}


def test_next_never_waits_for_a_retrain(studio, monkeypatch) -> None:
    s = studio(n=60, min_labels=6, retrain_every=6)
    # A thread in this process, so that the patched train_model is the one it runs (the
    # process mode is tested in test_worker.py).
    worker = trainer.Trainer(s.config, s.engine, s.project_id, poll_seconds=0.05, mode="thread")
    worker.step()
    s.label("ann", 6)
    entered, release = threading.Event(), threading.Event()
    real = trainer.train_model

    def slow_train(*args, **kwargs):
        entered.set()
        assert release.wait(30), "the test never released the trainer"
        return real(*args, **kwargs)

    monkeypatch.setattr(trainer, "train_model", slow_train)
    worker.start()
    try:
        assert entered.wait(30)
        assert worker.busy
        # The trainer is stuck in the middle of a retrain; serving and answering go on.
        for _ in range(3):
            s.answer("bob", s.next("bob"))
        assert worker.busy
    finally:
        release.set()
    for _ in range(200):
        with read_session(s.engine) as session:
            if session.get(Project, s.project_id).model_version == 1:
                break
        threading.Event().wait(0.05)
    worker.stop()
    with read_session(s.engine) as session:
        assert session.get(Project, s.project_id).model_version == 1


def test_strategies_the_model_cannot_run_are_refused(make_project) -> None:
    with pytest.raises(ValueError, match=r"bald.*sample_proba"):
        make_project(["a", "b"], strategy="bald")
    with pytest.raises(ValueError, match="multi-label"):
        make_project(["a", "b"], strategy="clue", multi_label=True)
    with pytest.raises(ValueError, match="cold_start"):
        make_project(["a", "b"], cold_start="margin")


def test_agreement_matches_hand_computed_kappas(studio) -> None:
    s = studio(n=4, overlap=3)
    # a, b, c label four items: a and b agree on 3 of 4.
    plan = {
        "a": ["pos", "pos", "neg", "neg"],
        "b": ["pos", "pos", "neg", "pos"],
        "c": ["pos", "neg", "neg", "neg"],
    }
    for _ in range(4):
        for name, labels in plan.items():
            item = s.next(name)
            s.answer(name, item, labels=[labels[(item[0] - 1) % 4]])
    with read_session(s.engine) as session:
        result = answers.agreement(session, session.get(Project, s.project_id))
    by_pair = {(row["a"], row["b"]): row for row in result["cohen"]}
    labels_of = {}
    with read_session(s.engine) as session:
        for answer in session.scalars(select(db.Answer)).all():
            labels_of.setdefault(answer.annotator_id, {})[answer.item_id] = answer.labels[0]
    a, b = (labels_of[s.person(n)] for n in ("a", "b"))
    items = sorted(a)
    pa, pb = [a[i] for i in items], [b[i] for i in items]
    observed = np.mean([x == y for x, y in zip(pa, pb, strict=True)])
    expected = sum(pa.count(c) * pb.count(c) for c in ("pos", "neg")) / 16
    assert by_pair["a", "b"]["kappa"] == pytest.approx((observed - expected) / (1 - expected))
    assert by_pair["a", "b"]["n"] == 4
    assert result["fleiss"]["n"] == 4


def test_fleiss_kappa_on_the_textbook_example() -> None:
    # Fleiss (1971) as worked on Wikipedia: 10 items, 14 raters, 5 categories; κ ≈ 0.210.
    table = np.array(
        [
            [0, 0, 0, 0, 14],
            [0, 2, 6, 4, 2],
            [0, 0, 3, 5, 6],
            [0, 3, 9, 2, 0],
            [2, 2, 8, 1, 1],
            [7, 7, 0, 0, 0],
            [3, 2, 6, 3, 0],
            [2, 5, 3, 2, 2],
            [6, 5, 2, 1, 0],
            [0, 2, 2, 3, 7],
        ]
    )
    assert answers.fleiss_kappa(table) == pytest.approx(0.20993, abs=1e-5)
    assert answers.cohen_kappa(list("aabb"), list("aabb")) == 1.0


def test_done_flags_follow_a_changed_overlap(studio) -> None:
    import dataclasses

    from activelab.studio.app import create_app

    s = studio(n=2, overlap=2)
    s.answer("a", s.next("a"))
    with write_session(s.engine) as session:
        session.execute(update(Item).values(done=True))
    create_app(dataclasses.replace(s.config, overlap=2), start_trainer=False)
    with read_session(s.engine) as session:
        assert sorted(session.scalars(select(Item.done)).all()) == [False, False]
