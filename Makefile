.PHONY: setup test lint
setup:
	bash scripts/setup.sh
test:
	bash scripts/test.sh
lint:
	.venv/bin/ruff check mtbench tests scripts
	.venv/bin/mypy
