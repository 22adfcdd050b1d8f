"""The shared kit of weight importers: safe reading, name tables, strict loading, checkpoint writing, options.

An importer (`WeightImporter.run(source, out, host, options)`) reads a foreign file with
`read_state_dict`, renames its tensors with a `NameTable`, refuses tensors it does not map with
`refuse_unused`, and writes the result with `write_checkpoint`, which names missing and unexpected
tensors and shape mismatches before it loads strictly. `read_options` checks the `--option KEY=VALUE`
settings an importer accepts.
"""

from sciformer.importing.files import find_weights, load_safely, read_json, read_model_config, read_state_dict
from sciformer.importing.loading import check_and_load, write_checkpoint
from sciformer.importing.names import NameTable, refuse_unused, unused_tensors, weights_and_biases
from sciformer.importing.options import read_options

__all__ = [
    "NameTable",
    "check_and_load",
    "find_weights",
    "load_safely",
    "read_json",
    "read_model_config",
    "read_options",
    "read_state_dict",
    "refuse_unused",
    "unused_tensors",
    "weights_and_biases",
    "write_checkpoint",
]
