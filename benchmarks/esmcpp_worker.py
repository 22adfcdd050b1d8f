"""The esm.cpp side of bench_esmcpp.py, run by the interpreter of its own virtual environment (numpy < 2, no torch).

    python esmcpp_worker.py WEIGHTS SEQUENCES_JSON

Loads WEIGHTS (esm.cpp's safetensors layout) twice, float32 and with `quantize_weights()` (W8A8 INT8),
answers one JSON line with its ISA and threads, then one JSON line per request read from stdin:

- `time MODE COUNT`: seconds of one `forward_scheduled` pass (packed batches, logits) over the first COUNT sequences;
- `embed MODE COUNT PATH`: the mean over residues (BOS and EOS dropped) of the last hidden state of the first
  COUNT sequences, saved to PATH (.npy).

MODE is `float32` or `int8`.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import esm_cpp
import numpy as np


def mean_embedding(model: esm_cpp.Model, ids: np.ndarray) -> np.ndarray:
    """The last hidden state of one sequence (HF semantics: after the final norm) averaged over its residues."""
    _, hidden = model.forward_with_hidden_states(ids)
    return np.asarray(hidden[-1])[1:-1].mean(0)


def main() -> None:
    """Answer requests until stdin closes."""
    weights, sequences = sys.argv[1:3]
    tokenizer = esm_cpp.Tokenizer()
    ids = [np.asarray(tokenizer.encode(s), dtype=np.int32) for s in json.loads(Path(sequences).read_text())]
    models = {mode: esm_cpp.Model.load_from_safetensors(weights) for mode in ("float32", "int8")}
    models["int8"].quantize_weights()
    print(json.dumps({"version": esm_cpp.__version__, "isa": esm_cpp.current_isa(), "threads": esm_cpp.Model.num_threads}), flush=True)
    for line in sys.stdin:
        request, mode, count, *rest = line.split()
        model, batch = models[mode], ids[: int(count)]
        if request == "time":
            begin = time.perf_counter()
            model.forward_scheduled(batch)
            print(json.dumps({"seconds": time.perf_counter() - begin}), flush=True)
        else:
            np.save(rest[0], np.stack([mean_embedding(model, row) for row in batch]).astype(np.float32))
            print(json.dumps({"saved": rest[0]}), flush=True)


if __name__ == "__main__":
    main()
