"""Sequence labelling and named-entity recognition: data, taggers, strategies, the loop.

>>> import activelab as al
>>> train, test = al.sequence.load_wikigold().split(0.2, random_state=0)
>>> len(train), len(test)
(1357, 339)
>>> tagger = al.sequence.CRFTagger(max_iterations=30)
>>> result = al.sequence.simulate(tagger, "seq_mnlp", train.tokens, train.tags,  # doctest: +SKIP
...                               test.tokens, test.tags, budget=6000, batch_size=1000)

- Data: :func:`read_conll` / :func:`write_conll` (IOB1, IOB2, BIOES, converted with
  :func:`convert_tags`), JSONL character spans (:func:`read_jsonl`,
  :func:`write_jsonl`), spaCy-style pairs (:func:`to_spacy`, :func:`from_spacy`), and
  two corpora shipped offline: :func:`load_wikigold`, :func:`load_wnut17`.
- Metrics: :func:`entity_scores` (entity-level precision, recall, F1; strict span match,
  per type and micro), equal to seqeval's.
- Taggers: :class:`Tagger` (the contract any model fulfils), :class:`CRFTagger`
  (crfsuite, read exactly in numpy: marginals, Viterbi, N-best, entropy, constrained
  decoding), :class:`TaggerCommittee` (bootstrap committee for posterior samples),
  and in torch (the ``torch`` extra, imported on first fit) :class:`BiLSTMCRFTagger`
  and :class:`MiniLMTagger` (fine-tuned all-MiniLM-L6-v2), with a CRF or softmax head,
  partial-label training and MC-dropout / ensemble posterior samples.
- CRF maths on arrays: :func:`forward_backward`, :func:`viterbi`, :func:`nbest`,
  :func:`log_likelihood`, :func:`partial_label_nll`, :func:`constrained_viterbi`,
  :func:`crf_entropy`.
- Strategies (``seq_*`` names) and pure scores (:func:`mnlp`, :func:`nbest_entropy`, …);
  sub-sequence and token queries with :func:`select_spans`.
- The loop: :func:`simulate` with budgets and curves in tokens, sentences or seconds
  (:class:`CostModel`).

Install the CRF with ``pip install 'activelab[ner]'`` (sklearn-crfsuite).
"""

from activelab.sequence._crf import (
    constrained_viterbi,
    forward_backward,
    log_likelihood,
    nbest,
    partial_label_nll,
    sequence_scores,
    viterbi,
)
from activelab.sequence._crf import entropy as crf_entropy
from activelab.sequence._datasets import load_wikigold, load_wnut17
from activelab.sequence._features import WordFeatures
from activelab.sequence._io import (
    TaggedCorpus,
    from_spacy,
    from_span_records,
    read_conll,
    read_jsonl,
    to_spacy,
    to_span_records,
    write_conll,
    write_jsonl,
)
from activelab.sequence._loop import (
    QUERIES,
    UNITS,
    CostModel,
    SequenceResult,
    SequenceRound,
    simulate,
)
from activelab.sequence._metrics import entity_f1, entity_scores, token_accuracy
from activelab.sequence._ragged import Ragged
from activelab.sequence._schemes import (
    SCHEMES,
    convert_tags,
    detect_scheme,
    entities,
    spans_to_tags,
)
from activelab.sequence._scores import (
    AGGREGATES,
    aggregate,
    mnlp,
    nbest_entropy,
    nbest_margin,
    path_disagreement,
    token_bald,
    token_kl,
    token_uncertainty,
    token_variation_ratio,
    token_vote_entropy,
    viterbi_least_confidence,
)
from activelab.sequence._spans import select_spans
from activelab.sequence._strategies import (
    MNLP,
    SEQUENCE_STRATEGIES,
    InformationDensityTagger,
    KLTagger,
    LeastConfidenceTagger,
    NBestMargin,
    SequenceBALD,
    SequenceDiverse,
    SequenceEntropy,
    TaggerStrategy,
    TokenEntropy,
    VoteEntropyTagger,
)
from activelab.sequence._taggers import CAPABILITIES, CRFTagger, Tagger, TaggerCommittee
from activelab.sequence._torch_taggers import BiLSTMCRFTagger, MiniLMTagger

__all__ = [
    "AGGREGATES",
    "CAPABILITIES",
    "MNLP",
    "QUERIES",
    "SCHEMES",
    "SEQUENCE_STRATEGIES",
    "UNITS",
    "BiLSTMCRFTagger",
    "CRFTagger",
    "CostModel",
    "InformationDensityTagger",
    "KLTagger",
    "LeastConfidenceTagger",
    "MiniLMTagger",
    "NBestMargin",
    "Ragged",
    "SequenceBALD",
    "SequenceDiverse",
    "SequenceEntropy",
    "SequenceResult",
    "SequenceRound",
    "TaggedCorpus",
    "Tagger",
    "TaggerCommittee",
    "TaggerStrategy",
    "TokenEntropy",
    "VoteEntropyTagger",
    "WordFeatures",
    "aggregate",
    "constrained_viterbi",
    "convert_tags",
    "crf_entropy",
    "detect_scheme",
    "entities",
    "entity_f1",
    "entity_scores",
    "forward_backward",
    "from_spacy",
    "from_span_records",
    "load_wikigold",
    "load_wnut17",
    "log_likelihood",
    "mnlp",
    "nbest",
    "nbest_entropy",
    "nbest_margin",
    "partial_label_nll",
    "path_disagreement",
    "read_conll",
    "read_jsonl",
    "select_spans",
    "sequence_scores",
    "simulate",
    "spans_to_tags",
    "to_spacy",
    "to_span_records",
    "token_accuracy",
    "token_bald",
    "token_kl",
    "token_uncertainty",
    "token_variation_ratio",
    "token_vote_entropy",
    "viterbi",
    "viterbi_least_confidence",
    "write_conll",
    "write_jsonl",
]
