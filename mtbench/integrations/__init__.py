"""Optional integrations with other tools: experiment trackers, the Hugging Face Hub, and training
frameworks (``transformers``: ``MTBenchCallback``).

Each one imports its third-party library only when used, from an optional extra of its own
(``pip install 'mtbench[wandb]'``), so the core install needs none of them; a missing extra is one line
naming it, never a traceback.
"""
