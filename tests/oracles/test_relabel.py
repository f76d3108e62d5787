"""Repeated labelling across rounds: MultiAnnotatorOracle(relabel=k) re-asks contested
earlier items and reports revised labels (Answers.revised); simulate, ActiveLearner.ask
and RecordingOracle apply them."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression

import activelab as al
from activelab.oracles import (
    Answers,
    LoopContext,
    MultiAnnotatorOracle,
    NoisyOracle,
    RecordingOracle,
    Router,
    SimulatedOracle,
    apply_revisions,
    simulated_annotators,
)


def truthful_and_flipper(y):
    """Two annotators always right and one always wrong, on binary labels."""
    return [SimulatedOracle(y), SimulatedOracle(y), NoisyOracle(y, noise=1.0, random_state=0)]


class Reviser:
    """Answers the truth, and on call ``when`` revises ``item`` (None: the first item it
    is asked about) to ``label``; records what the loop tells it."""

    def __init__(self, y, item, label, when=1):
        self.y, self.item, self.label_to, self.when = np.asarray(y), item, label, when
        self.calls = 0
        self.contexts: list[LoopContext] = []

    def observe(self, context):
        self.contexts.append(context)

    def label(self, indices):
        indices = np.asarray(indices, dtype=np.int64)
        if self.item is None:
            self.item = int(indices[0])
        revised = {self.item: self.label_to} if self.calls == self.when else None
        self.calls += 1
        return Answers(indices, self.y[indices], cost=float(indices.size), revised=revised)


# --- apply_revisions and Answers.revised -------------------------------------------


@given(
    st.lists(st.integers(0, 15), min_size=0, max_size=30),
    st.dictionaries(st.integers(0, 20), st.integers(-3, 3), max_size=10),
)
@settings(max_examples=100, deadline=None)
def test_apply_revisions_matches_a_plain_loop(held, revised):
    labels = np.arange(len(held), dtype=np.int64) * 10
    expected = labels.copy()
    for position, item in enumerate(held):
        if item in revised:
            expected[position] = revised[item]
    out = apply_revisions(held, labels, revised)
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(labels, np.arange(len(held)) * 10)  # input untouched


def test_apply_revisions_widens_strings_and_skips_unknown_items():
    out = apply_revisions([3, -1, 5], np.array(["a", "b", "a"]), {5: "dog", 9: "x"})
    assert out.tolist() == ["a", "b", "dog"]
    same = np.array([1, 2])
    assert apply_revisions([0, 1], same, None) is same
    assert apply_revisions([0, 1], same, {7: 0}) is same
    with pytest.raises(ValueError, match="one label per labelled item"):
        apply_revisions([0, 1, 2], same, {0: 1})


def test_answers_revised_is_checked():
    ok = Answers(np.array([1]), np.array([0]), revised={np.int64(4): 1})
    assert ok.revised == {4: 1} and type(next(iter(ok.revised))) is int
    with pytest.raises(TypeError, match="maps earlier items"):
        Answers(np.array([1]), np.array([0]), revised=[(4, 1)])
    with pytest.raises(ValueError, match="ints >= 0"):
        Answers(np.array([1]), np.array([0]), revised={-2: 1})
    with pytest.raises(ValueError, match="ints >= 0"):
        Answers(np.array([1]), np.array([0]), revised={"4": 1})
    with pytest.raises(ValueError, match="both answered and revised"):
        Answers(np.array([1, 4]), np.array([0, 0]), revised={4: 1})


@pytest.mark.parametrize("relabel", [-1, 1.5, 2.0, True, "3", None])
def test_bad_relabel(relabel):
    crowd = simulated_annotators([0, 1, 0], accuracies=[0.9, 0.8], random_state=0)
    with pytest.raises(ValueError, match="relabel is how many"):
        MultiAnnotatorOracle(crowd, relabel=relabel)


# --- the oracle ---------------------------------------------------------------------


def test_contested_earlier_items_are_asked_again_first_and_revised():
    y = np.arange(60) % 2
    # Two of three annotators per item: an item the flipper saw is a 1-1 tie (label
    # uncertainty 0.5), the others are 2-0 (0.125): the ties are asked again first.
    oracle = MultiAnnotatorOracle(
        truthful_and_flipper(y),
        classes=[0, 1],
        selection="random",
        n_per_item=2,
        relabel=5,
        costs=[1.0, 1.0, 0.5],
        random_state=0,
    )
    recorder = RecordingOracle(oracle)
    first = recorder.label(np.arange(30))
    assert first.revised == {}  # nothing earlier yet
    _, votes = oracle.annotations()
    ties = set(np.flatnonzero(votes[:, 2] >= 0).tolist())
    wrong = set(first.indices[first.labels != y[:30]].tolist())
    assert len(ties) > 10 and wrong and wrong <= ties  # ties broken at random
    cost_before = oracle.total_cost
    second = recorder.label(np.arange(30, 60))
    _, votes = oracle.annotations()
    again = set(np.flatnonzero((votes[:30] >= 0).sum(axis=1) == 3).tolist())
    assert oracle.n_relabeled_ == len(again) == 5 and again <= ties
    # The third vote is truthful (the only annotator left): wrong tie-breaks are revised.
    assert set(second.revised) == again & wrong
    assert all(second.revised[i] == y[i] for i in second.revised)
    new_cost = float(np.sum((votes[30:] >= 0) * [1.0, 1.0, 0.5]))
    assert second.cost == pytest.approx(new_cost + 5 * 1.0)  # re-asks are paid
    assert second.cost == pytest.approx(oracle.total_cost - cost_before)
    # Empty calls only re-ask; once every tie got its third vote, all labels are right.
    ties |= {30 + i for i in np.flatnonzero(votes[30:, 2] >= 0).tolist()}
    revisions = len(second.revised)
    while oracle.n_relabeled_ < len(ties):
        paid = oracle.total_cost
        last = recorder.label(np.empty(0, dtype=np.int64))
        assert last.indices.size == 0 and last.cost == oracle.total_cost - paid > 0
        revisions += len(last.revised)
    _, votes = oracle.annotations()
    three = set(np.flatnonzero((votes >= 0).sum(axis=1) == 3).tolist())
    assert ties <= three and len(three - ties) < 5  # the last call had room for 2-0 items
    assert recorder.label_accuracy(y) == 1.0  # the record took the revisions
    assert recorder.n_revised_ == oracle.n_revised_ == revisions > 0


def test_repeat_threshold_gates_relabelling():
    y = np.arange(40) % 2
    for threshold, expected in ((0.3, 0), (None, 10)):
        oracle = MultiAnnotatorOracle(
            truthful_and_flipper(y),
            classes=[0, 1],
            selection="random",
            repeat_threshold=threshold,
            relabel=10,
            random_state=0,
        )
        oracle.label(np.arange(20))
        oracle.label(np.arange(20, 40))
        # One vote has label uncertainty 0.25: contested under None, settled under 0.3.
        assert oracle.n_relabeled_ == expected


def test_relabel_zero_changes_nothing():
    y = np.arange(90) % 3
    runs = []
    for relabel in (0, None):
        crowd = simulated_annotators(y, accuracies=[0.9, 0.7, 0.5], random_state=1)
        params = {} if relabel is None else {"relabel": relabel}
        oracle = MultiAnnotatorOracle(crowd, selection="random", random_state=1, **params)
        answers = [oracle.label(np.arange(s, s + 30)) for s in (0, 30, 60)]
        assert all(a.revised is None for a in answers)
        runs.append(np.concatenate([a.labels for a in answers]))
    np.testing.assert_array_equal(*runs)


@pytest.mark.parametrize("aggregate", ["majority", "dawid_skene"])
def test_relabelling_fixes_a_bad_annotators_labels_over_rounds(aggregate):
    """The labelled set's clean accuracy rises with relabel, and revisions mostly turn a
    wrong label right."""
    y = np.arange(300) % 3
    accuracy = {}
    for relabel in (0, 10):
        scores, fixes, breaks = [], 0, 0
        for seed in range(4):
            crowd = simulated_annotators(y, accuracies=[0.9, 0.85, 0.2], random_state=seed)
            oracle = MultiAnnotatorOracle(
                crowd, selection="random", aggregate=aggregate, relabel=relabel, random_state=seed
            )
            recorder = RecordingOracle(oracle)
            for start in range(0, 300, 20):
                held = dict(zip(recorder.indices_.tolist(), recorder.labels_.tolist(), strict=True))
                answers = recorder.label(np.arange(start, start + 20))
                for item, label in (answers.revised or {}).items():
                    fixes += int(label == y[item] and held[item] != y[item])
                    breaks += int(label != y[item] and held[item] == y[item])
            scores.append(recorder.label_accuracy(y))
        accuracy[relabel] = np.mean(scores)
        if relabel:
            assert fixes > 2 * breaks
    assert accuracy[10] > accuracy[0] + 0.03


def test_only_items_the_loop_holds_are_asked_again():
    y = np.arange(40) % 2
    oracle = MultiAnnotatorOracle(
        truthful_and_flipper(y),
        classes=[0, 1],
        selection="random",
        n_per_item=1,
        relabel=40,
        random_state=0,
    )
    oracle.label(np.arange(20))
    held = np.arange(0, 20, 2)
    oracle.observe(LoopContext(None, None, held, y[held]))
    answers = oracle.label(np.arange(20, 40))
    _, votes = oracle.annotations()
    n_votes = (votes[:20] >= 0).sum(axis=1)
    assert np.all(n_votes[held] == 2) and np.all(n_votes[1:20:2] == 1)
    assert set(answers.revised) <= set(held.tolist())
    assert oracle.n_relabeled_ == held.size


def test_dawid_skene_relabels_the_least_certain_first():
    y = np.arange(150) % 2
    crowd = simulated_annotators(y, accuracies=[0.9, 0.8, 0.75, 0.3], random_state=0)
    oracle = MultiAnnotatorOracle(
        crowd,
        selection="random",
        n_per_item=2,
        aggregate="dawid_skene",
        relabel=15,
        random_state=0,
    )
    oracle.label(np.arange(120))
    _, votes = oracle.annotations()
    posteriors = al.oracles.dawid_skene(votes, 2).posteriors
    uncertainty = 1.0 - posteriors.max(axis=1)
    oracle.label(np.arange(120, 150))
    _, after = oracle.annotations()
    again = np.flatnonzero((after[:120] >= 0).sum(axis=1) == 3)
    assert again.size == 15
    assert uncertainty[again].min() >= np.sort(uncertainty)[::-1][14] - 1e-12
    assert uncertainty[again].min() > np.median(uncertainty)


def test_repeated_indices_keep_the_revisions():
    y = np.arange(20) % 2
    oracle = MultiAnnotatorOracle(
        truthful_and_flipper(y),
        classes=[0, 1],
        selection="random",
        n_per_item=2,
        relabel=20,
        random_state=3,
    )
    first = oracle.label(np.arange(10))
    answers = oracle.label(np.array([12, 12, 15]))
    assert answers.indices.tolist() == [12, 12, 15]
    wrong = {int(i) for i in first.indices[first.labels != y[first.indices]]}
    assert set(answers.revised) == wrong


# --- the loop -----------------------------------------------------------------------


def test_simulate_applies_revisions_before_the_next_fit(iris):
    X, y = iris
    oracle = Reviser(y.astype(str), item=None, label="revised", when=1)
    result = al.simulate(
        LogisticRegression(max_iter=300),
        "margin",
        X,
        y.astype(str),
        initial=6,
        batch_size=5,
        budget=21,
        oracle=oracle,
        random_state=0,
    )
    first = oracle.item
    assert first == int(result.history[0].indices[0])
    held = [
        dict(zip(c.labeled.tolist(), c.y_labeled.tolist(), strict=True)) for c in oracle.contexts
    ]
    # Call 0 labels the initial set, call 1 (the first batch) revises its first item: the
    # loop holds the new label (a longer string: the dtype widened) from the next fit on.
    assert held[0][first] == str(y[first])
    assert all(h[first] == "revised" for h in held[1:]) and len(held) == 3
    assert result.history[-1].n_labeled == 21
    assert result.history[-1].cost == 21.0


def test_simulate_with_relabelling_crowd_holds_the_oracles_labels(iris):
    X, y = iris
    costs = {}
    for relabel in (0, 4):
        crowd = simulated_annotators(y, accuracies=[0.9, 0.3, 0.85], random_state=0)
        oracle = MultiAnnotatorOracle(
            crowd,
            selection="random",
            n_per_item=2,  # Dawid–Skene needs items with several labels
            aggregate="dawid_skene",
            relabel=relabel,
            random_state=0,
        )
        recorder = RecordingOracle(oracle)
        mismatches: list[int] = []

        def spy(context, recorder=recorder, mismatches=mismatches):
            # What the loop holds is what the oracle says now (revisions applied alike).
            record = dict(zip(recorder.indices_.tolist(), recorder.labels_.tolist(), strict=True))
            now = [record[i] for i in context.labeled.tolist()]
            mismatches.append(int(np.sum(np.array(now) != context.y_labeled)))
            RecordingOracle.observe(recorder, context)

        recorder.observe = spy
        result = al.simulate(
            LogisticRegression(max_iter=300),
            "margin",
            X,
            y,
            initial=10,
            batch_size=10,
            budget=80,
            oracle=recorder,
            random_state=0,
        )
        assert len(mismatches) == 7 and sum(mismatches) == 0
        assert oracle._held is not None  # told through the recorder
        assert result.history[-1].cost == pytest.approx(oracle.total_cost)
        costs[relabel] = oracle.total_cost
        if relabel:
            assert oracle.n_relabeled_ > 0 and recorder.n_revised_ > 0
    assert costs[4] > costs[0]  # re-asks are paid for


def test_active_learner_ask_applies_revisions(iris):
    X, y = iris
    learner = al.ActiveLearner(LogisticRegression(max_iter=300), random_state=0)
    learner.fit(X[[0, 50, 100]], y[[0, 50, 100]])  # taught without indices: never revised
    oracle = Reviser(y, item=60, label=2, when=1)
    learner.ask(oracle, X, [60, 61, 110])
    assert learner.y_labeled[3] == y[60] == 1
    learner.ask(oracle, X, [10, 20])  # this call revises item 60
    assert learner.y_labeled.tolist() == [0, 1, 2, 2, 1, 2, 0, 0]
    assert oracle.contexts[-1].y_labeled.tolist() == [1, 1, 2]  # before the revision
    oracle.item, oracle.label_to, oracle.when = 0, 1, 2  # item 0 came from fit(): ignored
    learner.ask(oracle, X, [30])
    assert learner.y_labeled[0] == 0 and learner.n_labeled == 9
    assert oracle.contexts[-1].y_labeled.tolist() == [2, 1, 2, 0, 0]


def test_active_learner_starting_with_ask_and_a_crowd(iris):
    X, y = iris
    crowd = simulated_annotators(y, accuracies=[0.95, 0.2, 0.9], random_state=2)
    oracle = MultiAnnotatorOracle(
        crowd, selection="random", aggregate="dawid_skene", relabel=5, random_state=2
    )
    recorder = RecordingOracle(oracle)
    learner = al.ActiveLearner(LogisticRegression(max_iter=300), random_state=0)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(y))
    for start in range(0, 90, 15):
        learner.ask(recorder, X, order[start : start + 15])
    # The learner's labels are the record's (the order asked), revisions included.
    record = dict(zip(recorder.indices_.tolist(), recorder.labels_.tolist(), strict=True))
    assert learner.y_labeled.tolist() == [record[i] for i in order[:90].tolist()]
    assert oracle.n_revised_ > 0


class _Reviser:
    """An oracle that answers the truth and revises one earlier item (a stand-in crowd)."""

    def __init__(self, y, revise: dict) -> None:
        self.y, self.revise = np.asarray(y), revise

    def label(self, indices):
        indices = np.asarray(indices, dtype=np.int64)
        return Answers(
            indices,
            self.y[indices],
            np.empty(0, dtype=np.int64),
            None,
            float(indices.size),
            revised=dict(self.revise),
        )


def test_router_passes_on_revisions_and_the_humans_win():
    y = np.array([0, 1, 0, 1, 0, 1])
    human = _Reviser(y, {0: 1, 1: 0})
    llm = _Reviser(y, {1: 1, 2: 1})
    router = Router(human, llm, human_fraction=0.5, uncertainty=lambda idx: np.arange(len(idx)))
    answers = router.label(np.array([3, 4, 5, 2]))
    # item 2 is answered in this batch, so the LLM's revision of it is dropped;
    # item 1 was revised by both: the human's label wins.
    assert answers.revised == {0: 1, 1: 0}
    assert sorted(answers.indices.tolist()) == [2, 3, 4, 5]
