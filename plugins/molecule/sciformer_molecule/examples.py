"""Example records of the molecule domain, for tests and the plugin harness."""

from __future__ import annotations

from sciformer.records import ExampleRecords, Record

# Ethanol as a V2000 MOL block with 3D heavy-atom coordinates (angstrom).
ETHANOL_MOL_BLOCK = """ethanol
     sciformer

  3  2  0  0  0  0  0  0  0  0999 V2000
   -0.8883    0.1670    0.0000 C   0  0  0  0  0  0  0  0  0  0  0  0
    0.4658   -0.5116    0.0000 C   0  0  0  0  0  0  0  0  0  0  0  0
    1.4224    0.5464    0.0000 O   0  0  0  0  0  0  0  0  0  0  0  0
  1  2  1  0
  2  3  1  0
M  END
"""


# A small regression model with both attention biases, so the harness exercises each of them.
HARNESS_CONFIG = {
    "dim": 32,
    "depth": 2,
    "heads": 4,
    "max_positions": 64,
    "task": "sequence-regression",
    "num_labels": 1,
    "domain_options": {"attention_bias": ["mat", "gaussian"]},
}


def example_records() -> ExampleRecords:
    """Valid molecules (neutral, charged, aromatic, a MOL block) and invalid ones with known reasons."""
    return ExampleRecords(
        good=(
            Record("aspirin", "CC(=O)Oc1ccccc1C(=O)O", target="-1.72"),
            Record("caffeine", "Cn1cnc2c1c(=O)n(C)c(=O)n2C", target="-0.87"),
            Record("glycine-zwitterion", "[NH3+]CC(=O)[O-]", target="0.52"),
            Record("ethanol-molblock", ETHANOL_MOL_BLOCK, target="1.10"),
        ),
        bad=(
            Record("unclosed-ring", "C1CC"),
            Record("wildcard", "*CC(=O)O"),
            Record("empty", "   "),
            Record("not-a-molecule", 42),
        ),
        config=HARNESS_CONFIG,
    )
