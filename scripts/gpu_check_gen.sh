#!/usr/bin/env bash
# gen-answer's CUDA path on a GPU machine with no network: the HF engine at batch size 1 vs batched, float16
# vs bfloat16, tensor split over 2 GPUs where two are visible, vLLM only where it imports.
# Needs torch (CUDA), transformers, accelerate, pandas, filelock, markdown-it-py and the folder that
#     python scripts/gpu_prepare.py        (run where the repo's venv and data are; writes .gpu_carry/)
# makes: SmolLM2-135M-Instruct's config and tokenizer, question.jsonl and shortuuid. Nothing is installed
# and nothing is fetched: PYTHONPATH is the repo and .gpu_carry/site, the hubs and pip are set offline.
#     bash scripts/gpu_check_gen.sh                                   (on the device: `run` with carry .gpu_carry)
#     KEEP=1 keeps the work folder (answers, logs).
#     DEVICE=cpu QUESTIONS=4 ONE_QUESTIONS=2 MAX_NEW=8 bash scripts/gpu_check_gen.sh   (the same steps on CPU)
# The model is SmolLM2's architecture with RANDOM weights (seed 0), built here from the carried config: a
# random model almost never writes its end token, so every turn runs to MAX_NEW tokens (the timings
# compare equal work) and the answers are gibberish; greedy, so batched and one-at-a-time answers should
# still agree except where float rounding flips a near tie (the final norm is scaled x10 to make those rare).
# Prints a markdown table: wall seconds per CLI run (model load included), tokens/s, ratios, agreement.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PY=${PYTHON:-python3}
CARRY=${CARRY:-$REPO/.gpu_carry}
DEVICE=${DEVICE:-cuda}
QUESTIONS=${QUESTIONS:-80}      # the batched runs' questions (the first N of question.jsonl)
ONE_QUESTIONS=${ONE_QUESTIONS:-8}  # batch size 1 is slow: this many (of the same first ones)
MAX_NEW=${MAX_NEW:-128}
BATCH=${BATCH:-80}
DTYPES=${DTYPES:-float16 bfloat16}
[ -f "$CARRY/model/config.json" ] && [ -f "$CARRY/data/mt_bench/question.jsonl" ] || {
  echo "no $CARRY/model/config.json or data/: run python scripts/gpu_prepare.py first (and carry .gpu_carry)" >&2
  exit 2
}
export PYTHONPATH=$REPO:$CARRY/site${PYTHONPATH:+:$PYTHONPATH}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 PIP_NO_INDEX=1
export TOKENIZERS_PARALLELISM=false RAY_AUTH_MODE=disabled PYTHONUNBUFFERED=1

WORK=$(mktemp -d)
[ -n "${KEEP:-}" ] && echo "work folder (kept): $WORK" >&2 || trap 'rm -rf "$WORK"' EXIT
DATA=$WORK/data
mkdir -p "$DATA/mt_bench"
cp "$CARRY/data/mt_bench/question.jsonl" "$DATA/mt_bench/"

GPUS=$($PY - "$DEVICE" <<'EOF'
import sys
import torch, transformers
import mtbench.cli, shortuuid  # noqa: F401  (the carried site/ and the repo are on the path)
print(f"python {sys.version.split()[0]}, torch {torch.__version__}, transformers {transformers.__version__}",
      file=sys.stderr)
n = torch.cuda.device_count() if torch.cuda.is_available() else 0
if sys.argv[1] == "cuda":
    assert n, "no CUDA device (DEVICE=cpu runs the same steps on CPU)"
    print(", ".join(f"GPU {i}: {torch.cuda.get_device_name(i)}" for i in range(n)), file=sys.stderr)
print(n if sys.argv[1] == "cuda" else 0)
EOF
)

# SmolLM2's architecture, random weights, saved as a plain folder the CLI (and vLLM) load as any model.
MODEL=$WORK/model
start=$(date +%s.%N)
$PY - "$CARRY/model" "$MODEL" "$DEVICE" <<'EOF'
import shutil, sys
from pathlib import Path
import torch
from transformers import AutoConfig, AutoModelForCausalLM
src, out = Path(sys.argv[1]), Path(sys.argv[2])
torch.manual_seed(0)
with torch.device(sys.argv[3]):  # initialised where it runs: on CUDA in a second, on 2 CPU cores in minutes
    model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(src))
    # Sharper logits (x10 at the final norm): a random model's top two tokens are then rarely within
    # float16 rounding of each other, so a batched-vs-single disagreement points at the engine, not noise.
    torch.nn.init.constant_(model.model.norm.weight, 10.0)
model.save_pretrained(out)
for f in src.iterdir():
    if f.name != "config.json":
        shutil.copyfile(f, out / f.name)
print(f"random {sum(p.numel() for p in model.parameters()) / 1e6:.0f}M-parameter model in {out}", file=sys.stderr)
EOF
echo "model built in $($PY -c "print(round($(date +%s.%N) - $start, 1))") s" >&2

RUNS=()  # "label|answer file|seconds"
run_cli() {  # $1 = label, $2 = model id, $3 = questions, then gen-answer flags
  local label=$1 id=$2 n=$3 start end
  shift 3
  start=$(date +%s.%N)
  if $PY -m mtbench gen-answer --model-path "$MODEL" --model-id "$id" --data-dir "$DATA" --device "$DEVICE" \
      --question-end "$n" --max-new-token "$MAX_NEW" --no-progress "$@" >"$WORK/$id.log" 2>&1; then
    end=$(date +%s.%N)
    RUNS+=("$label|$DATA/mt_bench/model_answer/$id.jsonl|$($PY -c "print($end - $start)")")
  else
    echo "FAILED: $label (exit $?); its log:" >&2
    tail -n 20 "$WORK/$id.log" >&2
    RUNS+=("$label|-|0")
  fi
  echo "done: $label" >&2
}
FIRST=${DTYPES%% *}
for dtype in $DTYPES; do
  run_cli "HF --batch-size $BATCH --dtype $dtype" "bs$BATCH-$dtype" "$QUESTIONS" --batch-size "$BATCH" --dtype "$dtype"
done
run_cli "HF --batch-size 1 --dtype $FIRST" "bs1-$FIRST" "$ONE_QUESTIONS" --batch-size 1 --dtype "$FIRST"
if [ "$GPUS" -ge 2 ]; then
  run_cli "HF --batch-size $BATCH --dtype $FIRST --num-gpus-per-model 2" "bs$BATCH-$FIRST-tp2" "$QUESTIONS" \
    --batch-size "$BATCH" --dtype "$FIRST" --num-gpus-per-model 2 --num-gpus-total 2
else
  echo "skipped: --num-gpus-per-model 2 ($GPUS CUDA GPU(s) visible)" >&2
fi
if $PY -c "import vllm" 2>/dev/null; then
  run_cli "vLLM --dtype $FIRST" "vllm-$FIRST" "$QUESTIONS" --engine vllm --dtype "$FIRST"
else
  echo "skipped: --engine vllm (vllm does not import here)" >&2
fi

$PY - "$MODEL" "$MAX_NEW" "${RUNS[@]}" <<'EOF'
import json, sys
from transformers import AutoTokenizer
tok = AutoTokenizer.from_pretrained(sys.argv[1])
max_new = int(sys.argv[2])
runs = [r.split("|") for r in sys.argv[3:]]

def load(path):
    return {} if path == "-" else {r["question_id"]: r for r in map(json.loads, open(path))}

answers = {label: load(path) for label, path, _ in runs}
base_label = runs[0][0]
base = answers[base_label]
print(f"\n| gen-answer CLI, random-weight SmolLM2-135M, max {max_new} new tokens a turn | questions | turns | "
      f"failed | new tokens | wall s (incl. load) | tokens/s | x vs first | same answers as first |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
first_rate = None
for label, path, secs in runs:
    recs, secs = answers[label], float(secs)
    if not recs:
        print(f"| {label} | FAILED | | | | | | | |")
        continue
    turns = [t for r in recs.values() for c in r["choices"] for t in c["turns"]]
    tokens = sum(len(tok(t, add_special_tokens=False)["input_ids"]) for t in turns)
    rate = tokens / secs
    first_rate = first_rate or rate
    shared = [q for q in recs if q in base]
    same = sum(recs[q]["choices"] == base[q]["choices"] for q in shared)
    fails = sum(bool(r.get("error")) for r in recs.values())
    print(f"| {label} | {len(recs)} | {len(turns)} | {fails} | {tokens} | {secs:.1f} | {rate:.1f} | "
          f"{rate / first_rate:.2f}x | {same}/{len(shared)} |")
print(f"\nnew tokens: the answers re-tokenized (a random model's turns run to {max_new} generated tokens; "
      "decoding and re-encoding them can shift the count a little). Agreement: identical turns, greedy, "
      f"on the questions both runs answered, against '{base_label}'.")
EOF
