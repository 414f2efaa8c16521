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
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mtbench.errors import UserError
from mtbench.records import PairJudgment, iter_jsonl, load_pair_judgments

HUMAN = "human"
AUTHOR = "author"
GPT4_PAIR = "gpt4-pair"  # FastChat's name for GPT-4's pairwise votes in the human-judgment data
TIE = "tie"
INCONSISTENT_TIE = "tie (inconsistent)"  # the label the gpt4_pair split uses when the two games disagree
FORMATS = ("table", "markdown", "csv", "json")

# (turn, question_id, first model by name, second model by name)
VoteKey = tuple[int, int, str, str]


@dataclass(frozen=True)
class Vote:
    """One pairwise verdict. ``winner`` is "model_a", "model_b" or a tie label; ``judge`` is normalised
    (see ``normalize_judge``); ``voter`` is who voted as the file says it ("expert_3"), if anyone."""

    question_id: int
    model_a: str
    model_b: str
    winner: str
    judge: str
    turn: int
    voter: str = ""

    def oriented(self) -> tuple[VoteKey, str]:
        """The vote's key (models sorted by name) and its winner flipped to match that order."""
        if self.model_a <= self.model_b:
            return (self.turn, self.question_id, self.model_a, self.model_b), self.winner
        return (self.turn, self.question_id, self.model_b, self.model_a), flip(self.winner)


def flip(winner: str) -> str:
    return {"model_a": "model_b", "model_b": "model_a"}.get(winner, winner)


def is_tie(winner: str) -> bool:
    return TIE in winner


def votes_agree(a: str, b: str) -> bool:
    """FastChat's equality: both ties (of any kind), or the same label."""
    return (is_tie(a) and is_tie(b)) or a == b


def normalize_judge(raw: Any) -> str:
    """The judge of a human-judgment-layout vote, named as FastChat groups them.

    ``["gpt-4", "pair-v2"]`` -> "gpt4-pair"; "expert_12" -> "human"; "author_3" -> "author". Beyond
    FastChat: the string "gpt4_pair" (how some exports of the HF split spell it) is "gpt4-pair", any other
    ``[model, prompt]`` list is the model's name, and any other string is kept as it is.
    """
    if isinstance(raw, (list, tuple)):
        if not raw or not all(isinstance(x, str) for x in raw):
            raise ValueError(f"judge must be a string or a list of strings, got {json.dumps(raw)}")
        model = raw[0]
        if model == "gpt-4" and (len(raw) < 2 or raw[1].startswith("pair")):
            return GPT4_PAIR
        return model
    if not isinstance(raw, str) or not raw:
        raise ValueError(f"judge must be a string or a list of strings, got {json.dumps(raw)}")
    if raw.startswith("expert"):
        return HUMAN
    if raw.startswith("author"):
        return AUTHOR
    if raw in ("gpt4_pair", "gpt4-pair"):
        return GPT4_PAIR
    return raw


# ---------------------------------------------------------------------------------------------------
# votes from files


@dataclass(frozen=True)
class VoteSet:
    """The votes read from a file, and what was left out on the way."""

    votes: tuple[Vote, ...]
    errors: int = 0  # pairwise matches with a failed game, left out (FastChat's show drops them too)
    replaced: int = 0  # matches judged again later in the file; the last one counts


def match_verdict(judgment: PairJudgment) -> str:
    """A match's verdict by FastChat's show rule, in vote terms (model_1 = model_a)."""
    g1, g2 = judgment.g1_winner, judgment.g2_winner
    if g1 != g2:
        return INCONSISTENT_TIE
    return {"model_1": "model_a", "model_2": "model_b"}.get(g1, TIE)


def votes_from_pair_judgments(judgments: Iterable[PairJudgment], judge: str) -> VoteSet:
    """One vote per (turn, question, model pair); failed matches are counted, not voted."""
    latest: dict[VoteKey, Vote] = {}
    errors = replaced = 0
    for j in judgments:
        if j.failed:
            errors += 1
            continue
        vote = Vote(j.question_id, j.model_1, j.model_2, match_verdict(j), judge, j.turn)
        key, _ = vote.oriented()
        if key in latest:
            replaced += 1
        latest[key] = vote
    return VoteSet(tuple(latest.values()), errors, replaced)


def load_pair_votes(path: str | os.PathLike, judge: str | None = None) -> VoteSet:
    """Votes of a ``JUDGE_pair.jsonl`` file; the judge is named after the file unless ``judge`` is given."""
    path = Path(path)
    name = judge or judge_label(path)
    return votes_from_pair_judgments(load_pair_judgments(path), name)


def judge_label(path: Path) -> str:
    """``data/mt_bench/model_judgment/gpt-4_pair.jsonl`` -> "gpt-4"."""
    stem = path.name.removesuffix(".jsonl")
    return stem.removesuffix("_pair") or stem


def load_human_votes(path: str | os.PathLike) -> VoteSet:
    """Votes in the ``lmsys/mt_bench_human_judgments`` layout: a JSON array of vote objects, or JSONL.

    Fields used: question_id, model_a, model_b, winner ("model_a", "model_b", "tie", "tie (inconsistent)"),
    judge (a string such as "expert_3", or a list such as ["gpt-4", "pair-v2"]) and turn (default 1, as
    FastChat). Other fields (the conversations) are ignored. Errors name ``file:line`` (JSONL) or
    ``file: item N`` (array, counted from 1).
    """
    path = Path(path)
    votes = []
    for where, obj in _vote_objects(path):
        try:
            votes.append(vote_from_json(obj))
        except ValueError as e:
            raise UserError(f"{where}: {e}") from None
    return VoteSet(tuple(votes))


def _vote_objects(path: Path) -> Iterator[tuple[str, Mapping[str, Any]]]:
    try:
        with open(path, "rb") as f:
            head = f.read(4096).lstrip()
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a directory, not a vote file") from None
    if not head.startswith(b"["):
        for number, obj in iter_jsonl(path):
            yield f"{path}:{number}", obj
        return
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise UserError(f"{path}: not valid UTF-8") from None
    except json.JSONDecodeError as e:
        raise UserError(f"{path}:{e.lineno}: not valid JSON ({e.msg} at column {e.colno})") from None
    for i, obj in enumerate(items, 1):
        if not isinstance(obj, dict):
            raise UserError(f"{path}: item {i}: expected a JSON object, got {type(obj).__name__}")
        yield f"{path}: item {i}", obj


def vote_from_json(obj: Mapping[str, Any]) -> Vote:
    def need(key: str, kind: type, what: str) -> Any:
        if key not in obj:
            raise ValueError(f"missing field '{key}'")
        value = obj[key]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ValueError(f"field '{key}' must be {what}, got {json.dumps(value)[:40]}")
        return value

    winner = need("winner", str, "a string")
    if winner not in ("model_a", "model_b") and not is_tie(winner):
        raise ValueError(f"field 'winner' must be model_a, model_b or a tie, got {json.dumps(winner)}")
    turn = obj.get("turn", 1)  # FastChat's default too
    if not isinstance(turn, int) or isinstance(turn, bool) or turn < 1:
        raise ValueError(f"field 'turn' must be 1 or 2, got {json.dumps(turn)}")
    if "judge" not in obj:
        raise ValueError("missing field 'judge'")
    raw_judge = obj["judge"]
    return Vote(
        question_id=need("question_id", int, "an integer"),
        model_a=need("model_a", str, "a string"),
        model_b=need("model_b", str, "a string"),
        winner=winner,
        judge=normalize_judge(raw_judge),
        turn=turn,
        voter=raw_judge if isinstance(raw_judge, str) else "",
    )


# ---------------------------------------------------------------------------------------------------
# agreement (pure)


def bucket(votes: Iterable[Vote]) -> dict[VoteKey, list[str]]:
    """Winners by key, each flipped to the key's (sorted) model order."""
    out: dict[VoteKey, list[str]] = defaultdict(list)
    for vote in votes:
        key, winner = vote.oriented()
        out[key].append(winner)
    return dict(out)


# (turn, vote of the first judge, vote of the second)
Comparison = tuple[int, str, str]


def compare_with_judge(judge: Mapping[VoteKey, list[str]], others: Mapping[VoteKey, list[str]], name: str = "the judge"
                       ) -> list[Comparison]:
    """Each vote in ``others`` against ``judge``'s one vote on the same key (keys both have)."""
    out = []
    for key in sorted(judge.keys() & others.keys()):
        if len(judge[key]) != 1:
            turn, qid, m1, m2 = key
            raise UserError(
                f"{name} has {len(judge[key])} votes on question {qid}, turn {turn}, {m1} vs {m2}; "
                "a judge compared with others must vote once per question, turn and model pair"
            )
        (mine,) = judge[key]
        out.extend((key[0], mine, theirs) for theirs in others[key])
    return out


def compare_within(votes: Mapping[VoteKey, list[str]]) -> list[Comparison]:
    """Every unordered pair of votes on the same key (human vs human)."""
    return [
        (key[0], a, b)
        for key in sorted(votes)
        for a, b in itertools.combinations(votes[key], 2)
    ]


@dataclass(frozen=True)
class AgreementRow:
    comparison: str  # "gpt-4 vs llama-judge"
    turn: str  # "1", "2", ... or "all"
    ties: bool  # True: ties included (FastChat's "with tie"); False: "without tie"
    total: int
    agree: int
    ratio: float | None  # None when there is nothing to compare
    kappa: float | None  # Cohen's kappa over the same comparisons; None when undefined


def cohen_kappa(pairs: Sequence[tuple[str, str]]) -> float | None:
    """Cohen's kappa with every tie label as one category; None without comparisons or when chance is 1."""
    if not pairs:
        return None
    a = [TIE if is_tie(x) else x for x, _ in pairs]
    b = [TIE if is_tie(y) else y for _, y in pairs]
    n = len(pairs)
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    ca, cb = Counter(a), Counter(b)
    chance = sum(ca[c] * cb[c] for c in ca) / (n * n)
    if chance >= 1.0:
        return None
    return (observed - chance) / (1.0 - chance)


def summarize(comparison: str, comparisons: Sequence[Comparison], turns: Sequence[int] = (1, 2)) -> list[AgreementRow]:
    """FastChat's four lines (per turn, with and without ties), then the same over all turns."""
    rows = []
    for turn in [*turns, None]:
        chosen = [(a, b) for t, a, b in comparisons if turn is None or t == turn]
        for ties in (True, False):
            pairs = chosen if ties else [(a, b) for a, b in chosen if not is_tie(a) and not is_tie(b)]
            agree = sum(votes_agree(a, b) for a, b in pairs)
            rows.append(AgreementRow(
                comparison=comparison,
                turn="all" if turn is None else str(turn),
                ties=ties,
                total=len(pairs),
                agree=agree,
                ratio=agree / len(pairs) if pairs else None,
                kappa=cohen_kappa(pairs),
            ))
    return rows


# ---------------------------------------------------------------------------------------------------
# the command


@dataclass(frozen=True)
class AgreementConfig:
    judgment_files: tuple[Path, ...] = ()  # JUDGE_pair.jsonl files, each one judge
    human_files: tuple[Path, ...] = ()  # vote files in the mt_bench_human_judgments layout, pooled
    human_vs_human: bool = False


@dataclass(frozen=True)
class AgreementReport:
    rows: tuple[AgreementRow, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)


def agreement(config: AgreementConfig) -> AgreementReport:
    """Every judge against every other judge, every judge against the humans, and optionally humans
    against each other."""
    notes: list[str] = []
    judges: dict[str, dict[VoteKey, list[str]]] = {}
    labels = [judge_label(Path(p)) for p in config.judgment_files]
    for path, label in zip(config.judgment_files, labels, strict=True):
        name = label if labels.count(label) == 1 else str(path)
        if name in judges:
            raise UserError(f"--judgments: {path} is given twice")
        votes = load_pair_votes(path, name)
        if votes.errors:
            notes.append(f"{path}: {votes.errors} matches with a failed game left out")
        if votes.replaced:
            notes.append(f"{path}: {votes.replaced} matches judged more than once; the last one counts")
        if not votes.votes:
            raise UserError(f"{path}: no pairwise judgments to compare")
        judges[name] = bucket(votes.votes)

    humans: dict[VoteKey, list[str]] = {}
    if config.human_files:
        pooled: list[Vote] = []
        for path in config.human_files:
            pooled.extend(load_human_votes(path).votes)
        by_judge: dict[str, list[Vote]] = defaultdict(list)
        for vote in pooled:
            by_judge[vote.judge].append(vote)
        if by_judge.get(AUTHOR):
            notes.append(f"{len(by_judge[AUTHOR])} author votes left out of '{HUMAN}' (as FastChat)")
        humans = bucket(by_judge.get(HUMAN, ()))
        for name, votes in by_judge.items():
            if name in (HUMAN, AUTHOR):
                continue
            if name in judges:
                raise UserError(f"judge {name!r} appears both in a judgment file and in the vote files")
            judges[name] = bucket(votes)
        if not humans:
            raise UserError(f"{', '.join(map(str, config.human_files))}: no expert (human) votes found")
    elif config.human_vs_human:
        raise UserError("--human-vs-human needs --human FILE")

    comparisons: list[tuple[str, list[Comparison]]] = []
    names = list(judges)
    for a, b in itertools.combinations(names, 2):
        comparisons.append((f"{a} vs {b}", compare_with_judge(judges[a], judges[b], a)))
    if humans:
        for name in names:
            comparisons.append((f"{name} vs {HUMAN}", compare_with_judge(judges[name], humans, name)))
        if config.human_vs_human:
            comparisons.append((f"{HUMAN} vs {HUMAN}", compare_within(humans)))
    if not comparisons:
        raise UserError(
            "nothing to compare: give two judgment files (--judgments A_pair.jsonl B_pair.jsonl or "
            "--judge-models A B), or a judge and --human FILE, or --human FILE --human-vs-human"
        )

    turns = sorted({key[0] for votes in [*judges.values(), humans] for key in votes} | {1, 2})
    rows = []
    for label, found in comparisons:
        if not found:
            notes.append(f"{label}: no question, turn and model pair was voted on by both")
        rows.extend(summarize(label, found, turns))
    return AgreementReport(tuple(rows), tuple(notes))


# ---------------------------------------------------------------------------------------------------
# output


COLUMNS = ("comparison", "turn", "setup", "total", "agree", "ratio", "kappa")


def _cells(row: AgreementRow) -> list[str]:
    return [
        row.comparison,
        row.turn,
        "with tie" if row.ties else "without tie",
        str(row.total),
        str(row.agree),
        "-" if row.ratio is None else f"{row.ratio:.3f}",
        "-" if row.kappa is None else f"{row.kappa:.3f}",
    ]


def render(report: AgreementReport, fmt: str = "table") -> str:
    """The agreement table as text: an aligned table, markdown, CSV or JSON (only JSON carries the notes)."""
    if fmt == "json":
        return json.dumps({"rows": [asdict(r) for r in report.rows], "notes": list(report.notes)}, indent=2) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(COLUMNS)
        for r in report.rows:
            writer.writerow([r.comparison, r.turn, "with tie" if r.ties else "without tie", r.total, r.agree,
                             "" if r.ratio is None else repr(r.ratio), "" if r.kappa is None else repr(r.kappa)])
        return buf.getvalue()
    if fmt not in FORMATS:
        raise UserError(f"--format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    rows = [_cells(r) for r in report.rows]
    header = list(COLUMNS)
    widths = [max(len(c) for c in col) for col in zip(header, *rows, strict=True)]
    numeric = {3, 4, 5, 6}

    def line(cells: list[str]) -> str:
        padded = [c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
        return "| " + " | ".join(padded) + " |" if fmt == "markdown" else "  ".join(padded).rstrip()

    out = [line(header)]
    if fmt == "markdown":
        out.append("|" + "|".join(("-" * (w + 1) + ":") if i in numeric else "-" * (w + 2)
                                  for i, w in enumerate(widths)) + "|")
    else:
        out.append("  ".join("-" * w for w in widths))
    out.extend(line(r) for r in rows)
    return "\n".join(out) + "\n"
