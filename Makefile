# The two commands of the README. Each sets everything up on a fresh machine (Python 3.11).
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test install docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)       ## set up, then run the default simulation (healthy circuit, 2 s)
	$(BIN)/circuitsim

test: $(STAMP)      ## set up, then run the whole test suite
	$(BIN)/python -m pytest -q -n auto --dist loadfile

docs: $(STAMP)      ## build the documentation (executes the tutorial) into docs/_build/html
	$(BIN)/python -m sphinx -W --keep-going -n -b html docs docs/_build/html

clean:
	rm -rf $(VENV) outputs multirun .pytest_cache docs/_build docs/_generated docs/jupyter_execute
