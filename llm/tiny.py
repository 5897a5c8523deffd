"""Small backbones built in code: a LLaMA or GPT-2 of a few hundred thousand parameters with a byte-level BPE
tokenizer trained on the spot (milliseconds) on the caption phrases motionlib writes for Bandai clips.

They need no file and no download, so tests run them in seconds; they also stand for "a model trained from
scratch" beside the pretrained default. :func:`save_tiny` writes one as an ordinary Hugging Face folder that
:func:`~motionlib.llm.backbone.load_backbone` reads back.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

EOS = "<|endoftext|>"
PAD = "<|pad|>"


@dataclass(frozen=True)
class TinyConfig:
    kind: str = "llama"  # "llama" or "gpt2"
    hidden: int = 64
    layers: int = 2
    heads: int = 4
    context: int = 1024
    vocab_size: int = 384  # byte-level BPE: 256 bytes + merges + special tokens
    seed: int = 0


def default_corpus() -> list[str]:
    """Sentences of the kind the model reads and writes: the Bandai caption phrases and the templates."""
    from motionlib.motion.ingest.captions import CONTENTS, STYLES, SUBJECTS

    from .templates import TEMPLATES

    lines = [f"{s} {v}" for s in SUBJECTS for c in CONTENTS.values() for v in c.verbs]
    lines += [" ".join(st.manners + st.adverbs + st.adjectives) for st in STYLES.values()]
    lines += [p for c in CONTENTS.values() for ps in c.parts.values() for p in ps]
    lines += [t.prompt + " " + t.answer for ts in TEMPLATES.values() for t in ts]
    return lines


def tiny_tokenizer(corpus: list[str] | None = None, vocab_size: int = 384):
    """A byte-level BPE tokenizer (any text encodes, no unknown token) trained on ``corpus``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOS, PAD], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tk.train_from_iterator(corpus if corpus is not None else default_corpus(), trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tk, eos_token=EOS, pad_token=PAD)


def tiny_model(cfg: TinyConfig, vocab_size: int, eos_id: int, pad_id: int):
    from transformers import AutoModelForCausalLM, GPT2Config, LlamaConfig

    if cfg.kind == "llama":
        mc = LlamaConfig(vocab_size=vocab_size, hidden_size=cfg.hidden, intermediate_size=2 * cfg.hidden,
                         num_hidden_layers=cfg.layers, num_attention_heads=cfg.heads,
                         num_key_value_heads=max(1, cfg.heads // 2), max_position_embeddings=cfg.context,
                         tie_word_embeddings=True, bos_token_id=eos_id, eos_token_id=eos_id, pad_token_id=pad_id)
    elif cfg.kind == "gpt2":
        mc = GPT2Config(vocab_size=vocab_size, n_embd=cfg.hidden, n_layer=cfg.layers, n_head=cfg.heads,
                        n_positions=cfg.context, bos_token_id=eos_id, eos_token_id=eos_id, pad_token_id=pad_id)
    else:
        raise ValueError(f"tiny backbone kind must be 'llama' or 'gpt2', got {cfg.kind!r}")
    torch.manual_seed(cfg.seed)
    return AutoModelForCausalLM.from_config(mc).eval()


def tiny_backbone(cfg: TinyConfig | None = None, corpus: list[str] | None = None):
    """(model, tokenizer): a freshly initialised tiny causal LM and its tokenizer."""
    cfg = cfg or TinyConfig()
    tok = tiny_tokenizer(corpus, cfg.vocab_size)
    model = tiny_model(cfg, len(tok), tok.eos_token_id, tok.pad_token_id)
    return model, tok


def save_tiny(folder: str | os.PathLike, cfg: TinyConfig | None = None) -> Path:
    """Write a tiny backbone as a Hugging Face folder (config, weights, tokenizer)."""
    model, tok = tiny_backbone(cfg)
    folder = Path(folder)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder
