"""Repository-wide test settings."""

import os

import torch

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Parallel test processes share the machine's cores; one thread each avoids oversubscription.
    torch.set_num_threads(1)
