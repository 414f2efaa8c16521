"""Agreement between judges on pairwise verdicts: FastChat's ``compute_agreement``, for any two judges.

A vote says which of two answers to one question turn won. Votes are compared per key (turn,
question_id, the model pair sorted by name); a vote given with the pair in the other order is flipped
first, so "model_a" always means the alphabetically first model. Two votes agree when both are ties
(any label containing "tie", so "tie" equals "tie (inconsistent)") or when they are identical. The
"without tie" setup drops every comparison in which either vote is a tie.

Who is compared with whom follows FastChat: a judge with one vote per key (an LLM judge) is compared
with every vote of the other side on that key, so judge-vs-human makes one comparison per human vote;
human-vs-human compares every unordered pair of human votes on a key. Author votes are left out of
"human", as FastChat does.

Votes come from our (or FastChat's) ``JUDGE_pair.jsonl`` files, where a match's verdict is FastChat's
show rule (a tie when game 1 is a tie or the two games disagree; failed games are left out and counted),
or from vote files in the ``lmsys/mt_bench_human_judgments`` layout (a JSON array or JSONL).

Modules: ``votes`` (the vote record and its rules), ``vote_files`` (reading judgment and vote files),
``stats`` (comparisons, ratios, kappa), ``command`` (``AgreementConfig``, ``agreement``), ``render``.
Every public name is importable from here.
"""

from mtbench.agreement.command import AgreementConfig, AgreementReport, agreement
from mtbench.agreement.render import COLUMNS, FORMATS, render
from mtbench.agreement.stats import (
    AgreementRow,
    Comparison,
    bucket,
    cohen_kappa,
    compare_with_judge,
    compare_within,
    summarize,
)
from mtbench.agreement.vote_files import judge_label, load_human_votes, load_pair_votes, vote_from_json
from mtbench.agreement.votes import (
    AUTHOR,
    GPT4_PAIR,
    HUMAN,
    INCONSISTENT_TIE,
    TIE,
    Vote,
    VoteKey,
    VoteSet,
    flip,
    is_tie,
    match_verdict,
    normalize_judge,
    votes_agree,
    votes_from_pair_judgments,
)

__all__ = [
    "AUTHOR",
    "COLUMNS",
    "FORMATS",
    "GPT4_PAIR",
    "HUMAN",
    "INCONSISTENT_TIE",
    "TIE",
    "AgreementConfig",
    "AgreementReport",
    "AgreementRow",
    "Comparison",
    "Vote",
    "VoteKey",
    "VoteSet",
    "agreement",
    "bucket",
    "cohen_kappa",
    "compare_with_judge",
    "compare_within",
    "flip",
    "is_tie",
    "judge_label",
    "load_human_votes",
    "load_pair_votes",
    "match_verdict",
    "normalize_judge",
    "render",
    "summarize",
    "vote_from_json",
    "votes_agree",
    "votes_from_pair_judgments",
]
