VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.ready

.PHONY: quickstart test setup bench clean

$(STAMP): pyproject.toml scripts/setup_env.sh
	VENV=$(VENV) bash scripts/setup_env.sh
	touch $@

setup: $(STAMP)

## 1. The main job: prepare -> eval base -> LoRA train -> eval tuned -> report -> export (embedded model + data)
quickstart: $(STAMP)
	$(BIN)/sft-recipes quickstart

## 2. The whole test suite
test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

clean:
	rm -rf runs .pytest_cache
