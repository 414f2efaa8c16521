.PHONY: setup test test-all test-fast lint
setup:
	bash scripts/setup.sh
test:
	bash scripts/test.sh
test-all:
	bash scripts/test.sh all
test-fast:
	bash scripts/test.sh fast
lint:
	.venv/bin/ruff check mtbench tests scripts docs/hooks
	.venv/bin/mypy
	NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet
