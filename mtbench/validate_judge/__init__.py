"""`mtbench validate-judge`: a judge's agreement with the MT-bench experts, beside GPT-4's (issue 24).

Modules: ``experts`` (the expert votes and the paper's numbers), ``stats`` (sampling, agreement with
CIs, the judge's habits), ``command`` (``ValidateConfig``, ``validate_judge``), ``render``.
"""

from mtbench.validate_judge.command import PAPER_MODELS, ValidateConfig, Validation, validate_judge
from mtbench.validate_judge.experts import PAPER_TURN1, ExpertVotes, load_expert_votes
from mtbench.validate_judge.render import render, sentence

__all__ = ["PAPER_MODELS", "PAPER_TURN1", "ExpertVotes", "ValidateConfig", "Validation", "load_expert_votes",
           "render", "sentence", "validate_judge"]
