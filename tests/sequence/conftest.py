"""Small wikigold slices and CRFs fitted on them, shared by the sequence tests."""

from __future__ import annotations

import pytest

import activelab.sequence as seq


@pytest.fixture(scope="session")
def wikigold():
    """The wikigold corpus (IOB2), read once."""
    return seq.load_wikigold()


@pytest.fixture(scope="session")
def small(wikigold):
    """120 training sentences and 40 test sentences of wikigold."""
    train, test = wikigold.split(0.2, random_state=0)
    return train.subset(range(120)), test.subset(range(40))


@pytest.fixture(scope="session")
def crf(small):
    """A CRF fitted on the small training slice (few iterations: fast, not accurate)."""
    pytest.importorskip("sklearn_crfsuite")
    train, _ = small
    return seq.CRFTagger(max_iterations=15).fit(train.tokens, train.tags)


@pytest.fixture(scope="session")
def committee(small):
    """A three-member bootstrap committee of CRFs on the small training slice."""
    pytest.importorskip("sklearn_crfsuite")
    train, _ = small
    return seq.TaggerCommittee(seq.CRFTagger(max_iterations=10), n_members=3).fit(
        train.tokens, train.tags
    )
