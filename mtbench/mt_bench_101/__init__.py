"""MT-Bench-101 (Bai et al., ACL 2024) by its own protocol: 1,388 dialogues in 13 tasks, each user turn
answered after the dataset's golden history, each turn judged with its task's prompt, a dialogue scored by
its lowest judged turn, tables per task, ability and level with bootstrap intervals over dialogues.

Modules: ``data`` (the dialogues and the paper's prompts, read as data), ``judging`` (turns to the shared
judge's matches), ``scores`` (per-dialogue minimum, tables), ``protocol`` (what the commands call).
"""
