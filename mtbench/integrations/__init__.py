"""Optional integrations with other tools (experiment trackers, the Hugging Face Hub).

Each one imports its third-party library only when used, from an optional extra of its own
(``pip install 'mtbench[wandb]'``); a missing extra is one line naming it, never a traceback.
"""
