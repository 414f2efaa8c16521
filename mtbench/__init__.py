"""mtbench: MT-bench end to end, FastChat-compatible files."""

__version__ = "0.1.0"
