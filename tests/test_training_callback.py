"""``MTBenchCallback`` in a real ``transformers.Trainer``: a tiny random Llama trained for four steps on CPU,
a checkpoint saved every two, each evaluated in a fresh process (answers by the HF engine from the saved
checkpoint, the judge the loopback server) and its scores logged through the Trainer's log.

The judge refuses every request while the first checkpoint is evaluated: that evaluation is logged as
failed and training goes on to the second, whose scores (judge: 8 for a first turn, 5 for a second) are in
the log history and reach every callback's ``on_log``, where ``report_to``'s reporters read them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import cli
from tests.models import build_tiny_model
from tests.openai_server import OpenAITestServer, completion, error

pytestmark = pytest.mark.model

JUDGE = "judge-x"


def test_each_saved_checkpoint_is_scored_in_the_trainers_log_and_a_failed_one_does_not_stop_training(
        data_dir, tmp_path, monkeypatch):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainerCallback, TrainingArguments

    from mtbench.integrations.transformers import MTBenchCallback

    monkeypatch.setenv("OPENAI_API_KEY", "sk-callback-test")
    monkeypatch.setenv("PYTHONPATH", cli.process_env()["PYTHONPATH"])  # the evaluation process imports this checkout
    judge_state = {"refuse": False}

    def judge(body: dict):
        if judge_state["refuse"]:
            return error(400, "the judge refuses")
        second_turn = "Conversation with User" in body["messages"][-1]["content"]
        return completion(f"Rating: [[{5 if second_turn else 8}]]", model=JUDGE)

    class RefuseAtFirstSave(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            judge_state["refuse"] = state.global_step == 2

    class Reporter(TrainerCallback):  # what a report_to reporter sees: every on_log
        seen: list[dict] = []

        def on_log(self, args, state, control, logs=None, **kwargs):
            self.seen.append({**(logs or {}), "step": state.global_step})

    model_dir = build_tiny_model(tmp_path / "tiny")
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    torch.manual_seed(0)
    rows = [{"input_ids": ids, "labels": ids} for ids in torch.randint(6, 60, (8, 12))]
    with OpenAITestServer(judge) as server:
        callback = MTBenchCallback(judge_model=JUDGE, judge_base_url=server.base_url, data_dir=data_dir,
                                   per_category=1, device="cpu", max_new_token=6, timeout_s=300)
        args = TrainingArguments(output_dir=str(tmp_path / "run"), max_steps=4, save_steps=2, logging_steps=1,
                                 per_device_train_batch_size=4, learning_rate=1e-3, report_to=[], use_cpu=True,
                                 disable_tqdm=True, save_only_model=True)
        # processing_class: the tokenizer is saved with each checkpoint, where the answers' engine loads it
        trainer = Trainer(model=model, args=args, train_dataset=rows, processing_class=AutoTokenizer.from_pretrained(model_dir),
                          callbacks=[RefuseAtFirstSave(), Reporter(), callback])
        trainer.train()

    assert trainer.state.global_step == 4  # the failed evaluation did not stop training
    first, second = callback.results
    assert (first.step, first.checkpoint, first.model_id) == (2, tmp_path / "run" / "checkpoint-2", "run-step2")
    assert first.error is not None and "the judge refuses" in first.error
    assert second.error is None and second.model_id == "run-step4"
    categories = {f"mtbench/category/{c}": 6.5 for c in (
        "writing", "roleplay", "reasoning", "math", "coding", "extraction", "stem", "humanities")}
    assert second.metrics == {"mtbench/score": 6.5, "mtbench/turn_1": 8.0, "mtbench/turn_2": 5.0,
                              "mtbench/n_failed": 0.0, **categories}  # (8 x 8 + 8 x 5) / 16

    history = [entry for entry in trainer.state.log_history if any(k.startswith("mtbench/") for k in entry)]
    assert [(entry["step"], entry.get("mtbench/failed"), entry.get("mtbench/score")) for entry in history] == [
        (2, 1.0, None), (4, None, 6.5)]
    reported = [entry for entry in Reporter.seen if any(k.startswith("mtbench/") for k in entry)]
    assert [(entry["step"], entry.get("mtbench/score")) for entry in reported] == [(2, None), (4, 6.5)]
    answers = Path(data_dir) / "mt_bench" / "model_answer"
    assert sorted(p.name for p in answers.glob("*.jsonl")) == ["run-step2.jsonl", "run-step4.jsonl"]


def test_a_misspelt_option_is_refused_before_training():
    from mtbench.core.options import ConfigError
    from mtbench.integrations.transformers import MTBenchCallback

    with pytest.raises(ConfigError, match="per_categry: not an option of evaluate .*did you mean per_category"):
        MTBenchCallback(per_categry=2)
    with pytest.raises(ValueError, match="model_path: the callback fills it from each checkpoint"):
        MTBenchCallback(model_path="x")
