"""The named-entity corpora shipped with activelab (CC-BY 4.0; see ``data/ATTRIBUTION.md``).

Nothing is downloaded: the CoNLL files live in the package's ``data`` folder.
"""

from __future__ import annotations

from importlib import resources

from activelab.sequence._io import TaggedCorpus, read_conll

__all__ = ["load_wikigold", "load_wnut17"]

_WNUT_SPLITS = ("train", "dev", "test")


def _data_file(name: str):
    return resources.files("activelab.sequence").joinpath("data", name)


def load_wikigold(scheme: str | None = "IOB2") -> TaggedCorpus:
    """wikigold: 1,696 sentences (39,007 tokens) of Wikipedia with PER, LOC, ORG, MISC.

    The file is in IOB1; by default the tags are converted to IOB2 (the entities are
    unchanged). It has no official split: use :meth:`TaggedCorpus.split` (a seeded 80/20
    split by sentence is the usual protocol). ``documents`` numbers its 145 articles.

    Parameters
    ----------
    scheme : {"IOB1", "IOB2", "BIOES"} or None
        Tag scheme of the result; None keeps the file's IOB1.

    Returns
    -------
    TaggedCorpus

    References
    ----------
    Balasuriya, Ringland, Nothman, Murphy & Curran (2009), "Named entity recognition in
    Wikipedia", Workshop on the People's Web Meets NLP. Licence: CC-BY 4.0.

    Examples
    --------
    >>> corpus = load_wikigold()
    >>> len(corpus), corpus.n_tokens, corpus.scheme
    (1696, 39007, 'IOB2')
    """
    with resources.as_file(_data_file("wikigold.conll.txt.gz")) as path:
        return read_conll(path, scheme="IOB1", to_scheme=scheme, name="wikigold")


def load_wnut17(split: str = "train", scheme: str | None = "IOB2") -> TaggedCorpus:
    """WNUT-17: emerging and rare entities in social-media text (six entity types).

    Types: person, location, corporation, product, creative-work, group. Splits: train
    (3,394 sentences, 62,730 tokens), dev (1,009 sentences, 15,733 tokens), test (1,287
    sentences, 23,394 tokens). Tags are IOB2.

    Parameters
    ----------
    split : {"train", "dev", "test"}
    scheme : {"IOB1", "IOB2", "BIOES"} or None
        Tag scheme of the result; None keeps the file's IOB2.

    Returns
    -------
    TaggedCorpus

    References
    ----------
    Derczynski, Nichols, van Erp & Limsopatham (2017), "Results of the WNUT2017 shared
    task on novel and emerging entity recognition", W-NUT. Licence: CC-BY 4.0.

    Examples
    --------
    >>> load_wnut17("dev").labels[:3]
    ['O', 'B-corporation', 'I-corporation']
    """
    if split not in _WNUT_SPLITS:
        raise ValueError(f"split must be one of {_WNUT_SPLITS}; got {split!r}.")
    with resources.as_file(_data_file(f"wnut17_{split}.conll.gz")) as path:
        return read_conll(
            path, scheme="IOB2", to_scheme=scheme, separator="\t", name=f"wnut17-{split}"
        )
