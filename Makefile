# bioalign: `make run` runs the default pipeline, `make test` the tests; both set up .venv first.
VENV   ?= .venv
PY     := $(VENV)/bin/python
CORES  ?= all
MIRROR := $(abspath ../shared/mirror)
# Data roots, searched in order (os.pathsep-separated): yours first, then the shared mirror.
ifneq ($(wildcard $(MIRROR)),)
export BIOALIGN_DATA_MIRROR := $(if $(BIOALIGN_DATA_MIRROR),$(BIOALIGN_DATA_MIRROR):$(MIRROR),$(MIRROR))
endif

.PHONY: run test lint report push pull clean-results

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[all]'
	touch $@

run: $(VENV)/.installed
	$(VENV)/bin/snakemake --cores $(CORES)

test: $(VENV)/.installed
	$(PY) -m pytest -q

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check . && $(VENV)/bin/snakemake --lint

report: $(VENV)/.installed
	$(VENV)/bin/snakemake --cores 1 --report results/snakemake_report.zip

push: $(VENV)/.installed
	$(VENV)/bin/dvc push

pull: $(VENV)/.installed
	$(VENV)/bin/dvc pull
	$(VENV)/bin/snakemake --cores 1 --touch

clean-results:
	rm -rf results logs
