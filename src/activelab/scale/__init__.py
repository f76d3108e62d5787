"""Scale-out: score and select from pools larger than memory, on Dask.

>>> import activelab as al                                            # doctest: +SKIP
>>> picks = al.scale.query(model, "data/*.parquet", 1000, "margin")   # doctest: +SKIP
>>> picks.to_frame().head()                                           # doctest: +SKIP

:func:`query` reads the pool partition by partition on the workers of a Dask cluster
(a ``distributed.Client``; a LocalCluster on one machine, any Dask cluster beyond it),
applies the model there, and merges partial results into the global answer. What each
strategy gets — an exact top-k, a prefilter, two-round k-center, a sample — is its plan
(:func:`plan_for`). ``activelab score`` (:mod:`activelab.scale.cli`) is the command line.

Dask is an optional dependency (``pip install 'activelab[dask]'``); it is imported only
when a query runs.
"""

from activelab.scale._cluster import local_cluster
from activelab.scale._keys import stream_seed, tie_keys, uniform_keys
from activelab.scale._plans import PLANS, Plan, plan_for
from activelab.scale._query import query
from activelab.scale._result import Picks

__all__ = [
    "PLANS",
    "Picks",
    "Plan",
    "local_cluster",
    "plan_for",
    "query",
    "stream_seed",
    "tie_keys",
    "uniform_keys",
]
