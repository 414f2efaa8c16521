"""The shipped bench manifests (package data, one ``NAME.json`` per known bench; see mtbench.core.manifest)."""
