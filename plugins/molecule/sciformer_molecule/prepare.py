"""Completing a molecule model's configuration from its training records."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from rdkit import Chem
from sciformer.config import ModelConfig
from sciformer.errors import BadRecordError
from sciformer.records import Record

from sciformer_molecule.descriptors import descriptor_statistics, descriptor_values
from sciformer_molecule.featurize import canonical_order, parse_molecule
from sciformer_molecule.options import MoleculeOptions


def prepare_config(config: ModelConfig, records: Sequence[Record]) -> ModelConfig:
    """`target_mean` / `target_std` for regression, and the descriptors' `feature_mean` / `feature_std`
    for a model that takes them (each unless already set); class names are the core's."""
    options = dict(config.domain_options)
    if config.task == "sequence-regression" and "target_mean" not in options:
        values = [v for v in (_number(r.target) for r in records if r.error is None) if v is not None]
        if len(values) >= 2:
            mean = sum(values) / len(values)
            std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) or 1.0
            options.update(target_mean=mean, target_std=std)
    if MoleculeOptions.from_mapping(options).molecule_features == "rdkit2d" and "feature_mean" not in options:
        rows = [descriptor_values(mol) for mol in _molecules(records)]
        if rows:
            mean, std = descriptor_statistics(np.stack(rows))
            options.update(feature_mean=mean, feature_std=std)
    return config if options == config.domain_options else config.replace(domain_options=options)


def _molecules(records: Sequence[Record]) -> list[Chem.Mol]:
    """The training records' molecules as the tokenizer reads them (canonical); bad records are left out."""
    molecules = []
    for record in records:
        if record.error is None:
            try:
                molecules.append(canonical_order(record.id, parse_molecule(record.id, record.data))[0])
            except BadRecordError:
                continue
    return molecules


def _number(value: object) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
