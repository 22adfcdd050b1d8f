# The two commands of the README: `make demo` (set up, then score the shipped examples with the
# shipped models) and `make test` (set up, then run every test). Both create .venv as needed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SCIFORMER := $(VENV)/bin/sciformer
PLUGINS := $(sort $(dir $(wildcard plugins/*/pyproject.toml)))
STAMP := $(VENV)/.sciformer-installed
TORCH := torch==2.13.0
# Reference packages of the parity tests installed without their requirements: timm requires torchvision, which
# would replace this torch (the vision tests give timm a stand-in of the torchvision names it reads at import).
NO_DEPS := timm==1.0.31

.PHONY: setup demo test models bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml $(wildcard plugins/*/pyproject.toml)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e ".[test]" $(foreach p,$(PLUGINS),-e "$(p:/=)[test]")
	$(PY) -m pip install --quiet --no-deps $(NO_DEPS)
	touch $(STAMP)

demo: setup
	$(PY) examples/demo.py --out demo-output

test: setup
	$(VENV)/bin/ruff check --quiet .
	OMP_NUM_THREADS=1 $(PY) -m pytest -q -n 2

models: setup
	$(PY) examples/train_models.py
	$(PY) examples/model_table.py

bench: setup
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) demo-output runs .pytest_cache
