"""`mtbench gen-api-answer`: MT-bench answers from an OpenAI-compatible endpoint (FastChat's gen_api_answer)."""

from __future__ import annotations

import argparse
import sys

from mtbench.cli.options import command_config

# The config whose declared options are this command's flags (imported only when the command runs).
CONFIG = "mtbench.gen_api_answer:ApiAnswerConfig"

def register(sub) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "gen-api-answer",
        help="answer the questions with a model behind an OpenAI-compatible API (vLLM, transformers serve, OpenAI)",
        description=(
            "Ask every question, both turns, of a model served by an OpenAI-compatible endpoint, e.g. "
            "'vllm serve MODEL' then 'mtbench gen-api-answer --model MODEL --base-url http://localhost:8000/v1 "
            "--parallel 64'. Turn 2 carries the model's own turn-1 answer. Answers are appended to "
            "BENCH/model_answer/MODEL_ID.jsonl as each question finishes; a rerun asks only what is missing, "
            "and the file ends sorted by question id, one line per id. A question that fails after every "
            "retry is written as a failure (field 'error', only the turns that completed), which the judge "
            "skips; a rerun asks again those the endpoint never answered (no connection, timeouts, 5xx), "
            "--retry-failed all of them. An unreachable endpoint, a refused key or an unknown "
            "model stops the run at its first request (exit 1). A reasoning model's thinking (inline "
            "<think>...</think>, or the reply's reasoning_content field) is kept apart in 'reasoning'; turn 2 "
            "carries only the visible turn-1 answer."
        ),
    )
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from mtbench.core.rate_limit import rate_limit_line
    from mtbench.gen_api_answer import generate_api_answers

    config = command_config(args)
    summary = generate_api_answers(config)
    asked = summary.answered + len(summary.failed)
    if not asked:
        print(f"{summary.answer_file}: all {summary.selected} questions already answered; nothing to do")
        return 0
    line = (
        f"{summary.answer_file}: {summary.answered} answered, {len(summary.failed)} failed"
        f" ({summary.skipped} already there) in {summary.elapsed_s:.1f}s;"
        f" tokens: {summary.prompt_tokens} prompt, {summary.completion_tokens} completion"
    )
    if summary.truncated_turns:
        line += f"; {summary.truncated_turns} turn(s) cut at --max-tokens {config.max_tokens}"
        if summary.cut_while_reasoning:
            line += f" ({summary.cut_while_reasoning} while reasoning: an empty answer)"
    print(line)
    if rate_line := rate_limit_line(summary.rate_limited, summary.waited_s):
        print(rate_line)
    for qid, reason in summary.failed[:5]:
        print(f"  question {qid} failed: {reason}", file=sys.stderr)
    if len(summary.failed) > 5:
        print(f"  ... and {len(summary.failed) - 5} more", file=sys.stderr)
    if summary.failed:
        print(f"  {summary.retry_hint}", file=sys.stderr)
    return 0
