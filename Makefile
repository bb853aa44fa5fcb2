# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The CPU build of PyTorch; a plain `torch` requirement would pull a multi-GB CUDA build.
TORCH_SPEC ?= torch==2.13.0
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test migrate worker api bench compose-check clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

migrate: $(VENV)/.installed
	$(PY) -m services.db.migrate

# The API and one worker on the embedded default (SQLite + a file broker under ./var), or on whatever
# DJ_DATABASE_URL / DJ_BROKER_URL name. Ctrl-C stops both.
run: migrate
	@echo "diffusion-jobs: API on http://$(HOST):$(PORT)  (docs: http://$(HOST):$(PORT)/docs)"
	@$(PY) -m worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	$(PY) -m uvicorn api.app:app --host $(HOST) --port $(PORT)

worker: migrate
	$(PY) -m worker

api: migrate
	$(PY) -m uvicorn api.app:app --host $(HOST) --port $(PORT)

test: $(VENV)/.installed
	$(PY) -m pytest -p no:cacheprovider $(PYTEST_ARGS)

bench: $(VENV)/.installed
	$(PY) benchmarks/sample_latency.py

compose-check:
	docker-compose -f docker-compose.yml config -q

clean:
	rm -rf $(VENV) var .pytest_cache
