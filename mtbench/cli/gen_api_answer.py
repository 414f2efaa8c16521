"""`mtbench gen-api-answer`: MT-bench answers from an OpenAI-compatible endpoint (FastChat's gen_api_answer)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mtbench.cli.common import (
    add_endpoint_args,
    add_layout_args,
    add_per_category_arg,
    endpoint_from,
    layout_from,
)
from mtbench.cli.reasoning_flags import add_reasoning_args, reasoning_from


def register(sub) -> None:
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
    add_gen_api_answer_args(parser)
    parser.set_defaults(run=run)


def add_gen_api_answer_args(parser) -> None:
    """gen-api-answer's flags (``mtbench run`` registers them too, see ``cli.flag_scope``)."""
    add_layout_args(parser)
    parser.add_argument("--model", required=True, help="the model name sent to the endpoint")
    parser.add_argument(
        "--model-id",
        help="the answer file's name, i.e. the model's name in judgments and tables "
        "(default: --model with '/' replaced by '--', e.g. meta-llama/Llama-3-8B -> meta-llama--Llama-3-8B)",
    )
    parser.add_argument("--answer-file", type=Path, help="output file (default: BENCH/model_answer/MODEL_ID.jsonl)")
    add_endpoint_args(parser, url_flags=("--openai-api-base", "--base-url"), key_flag="--api-key-env",
                      parallel_default=1, parallel_help="conversations in flight at once (default: 1)")
    parser.add_argument("--num-choices", type=int, default=1, help="conversations per question (default: 1)")
    parser.add_argument(
        "--force-temperature", type=float, metavar="T",
        help="one temperature for every question, over required_temperature and the per-category table",
    )
    parser.add_argument("--max-tokens", type=int, default=1024, help="max_tokens of each turn (default: 1024)")
    parser.add_argument("--question-begin", type=int, metavar="I", help="slice start over the questions in file order")
    parser.add_argument("--question-end", type=int, metavar="I", help="slice end over the questions in file order")
    add_per_category_arg(parser)
    parser.add_argument(
        "--system-prompt", metavar="TEXT",
        help="a system message sent first in every request (default: none, the model's own default applies)",
    )
    parser.add_argument(
        "--extra-body", metavar="JSON",
        help="more request fields, a JSON object, e.g. '{\"reasoning_effort\": \"high\"}' or "
        "'{\"chat_template_kwargs\": {\"enable_thinking\": true}}' (recorded in each answer)",
    )
    add_reasoning_args(parser)
    parser.add_argument("--retry-failed", action="store_true", help="ask again the questions recorded as failures")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def api_answer_config_from(args: argparse.Namespace):
    """The ``ApiAnswerConfig`` of gen-api-answer's flags (it checks itself: one-line UserError)."""
    from mtbench.core.request_params import extra_body_from_json
    from mtbench.gen_api_answer import ApiAnswerConfig, default_model_id

    return ApiAnswerConfig(
        layout=layout_from(args),
        model=args.model,
        model_id=args.model_id or default_model_id(args.model),
        endpoint=endpoint_from(args),
        answer_file=args.answer_file,
        num_choices=args.num_choices,
        force_temperature=args.force_temperature,
        max_tokens=args.max_tokens,
        question_begin=args.question_begin,
        question_end=args.question_end,
        per_category=args.per_category,
        parallel=args.parallel,
        system_prompt=args.system_prompt,
        retry_failed=args.retry_failed,
        progress=not args.no_progress,
        reasoning=reasoning_from(args),
        extra_body=extra_body_from_json(args.extra_body, "--extra-body"),
    )


def run(args: argparse.Namespace) -> int:
    from mtbench.core.rate_limit import rate_limit_line
    from mtbench.gen_api_answer import generate_api_answers

    summary = generate_api_answers(api_answer_config_from(args))
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
        line += f"; {summary.truncated_turns} turn(s) cut at --max-tokens {args.max_tokens}"
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
