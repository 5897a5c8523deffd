"""The motion-language model: a backbone with the motion vocabulary, LoRA adapters or all weights trainable.

With LoRA (the default), peft puts rank-``r`` adapters on every linear projection of the backbone (attention
and MLP; "all-linear": everything but the output layer) and makes the rows of the new tokens (``<mot>``,
``</mot>`` and the codes) of the input embedding trainable, and of the output layer too, which SmolLM2 and
the tiny backbones tie to it; the backbone's own weights stay frozen. What a checkpoint stores is then only
the adapters and those rows (:mod:`.checkpoint`). Full fine-tuning trains, and stores, every weight.

With ``layout="grouped"`` (:mod:`.grouped`) only ``<mot>`` and ``</mot>`` are new tokens; the codes go in and
out through a :class:`~.grouped.StepCoder` (``MotionLM.steps``), which is trained and stored in full either way.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .backbone import context_length, load_backbone
from .grouped import GroupedFormatter, StepCoder
from .sequence import Formatter
from .vocab import MotionVocab, VocabSpec

LAYOUTS = ("flat", "grouped")


@dataclass
class MotionLM:
    model: torch.nn.Module  # the HF causal LM (peft-wrapped while training with LoRA)
    tokenizer: object
    vocab: MotionVocab
    formatter: Formatter
    layout: str = "flat"  # "flat": one code token per part and step; "grouped": one position per step
    steps: StepCoder | None = None  # the grouped layout's step embedding and part head

    def parameters(self) -> list[torch.nn.Parameter]:
        """Every parameter: the (wrapped) backbone's and the step coder's."""
        return list(self.model.parameters()) + (list(self.steps.parameters()) if self.steps is not None else [])

    def train(self, mode: bool = True) -> None:
        self.model.train(mode)
        if self.steps is not None:
            self.steps.train(mode)

    @property
    def context(self) -> int:
        return context_length(self.base_model)

    @property
    def base_model(self):
        m = self.model
        return m.get_base_model() if hasattr(m, "get_base_model") else m

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device


def new_token_ids(vocab: MotionVocab) -> list[int]:
    return list(range(vocab.start_id, vocab.code_end))


def lora_config(vocab: MotionVocab, r: int, alpha: int, dropout: float):
    from peft import LoraConfig

    return LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules="all-linear",
                      trainable_token_indices=new_token_ids(vocab), task_type="CAUSAL_LM")


def build_lm(backbone: str | None, spec: VocabSpec, lora: bool = True, r: int = 16, alpha: int = 32,
             dropout: float = 0.0, device: str = "cpu", init_rows: bool = True, layout: str = "flat",
             group_dim: int = 96, code_bits: int = 0) -> MotionLM:
    """A trainable model: the backbone, its vocabulary extended, LoRA-wrapped (or fully trainable).
    ``init_rows=False``: the new rows get the plain initialisation (no mean resizing), for a checkpoint to set.
    ``layout="grouped"``: the motion as one position per step, with a step coder of width ``group_dim`` whose
    code rows are maps of the codes' ``code_bits`` LFQ signs plus free rows (``code_bits=0``: free rows only)."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    model, tok = load_backbone(backbone)
    grouped = layout == "grouped"
    vocab = MotionVocab.extend(tok, model, spec, init_rows, codes=not grouped)
    steps = None
    if grouped:
        steps = StepCoder(spec, model.config.hidden_size, group_dim, code_bits)
        steps.init_scale(model.get_input_embeddings().weight[:vocab.start_id])
    if lora:
        import warnings

        from peft import get_peft_model

        with warnings.catch_warnings():  # peft asks transformers a deprecated question; nothing for the user
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            model = get_peft_model(model, lora_config(vocab, r, alpha, dropout))
    else:
        for p in model.parameters():
            p.requires_grad_(True)
    model.to(device)
    if steps is not None:
        steps.to(device)
    fmt = GroupedFormatter(tok, vocab) if grouped else Formatter(tok, vocab)
    return MotionLM(model, tok, vocab, fmt, layout, steps)


def trainable_parameters(model) -> int:
    """Trainable parameters of a module or a :class:`MotionLM`."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@dataclass(frozen=True)
class InferenceConfig:
    """How a model is set up for decoding (:func:`prepare_for_inference`); ``benchmarks/bench_generate.py``
    measures each choice (figures in the speed section of ``llm/README.md``)."""

    attention: str = "sdpa"  # "sdpa" or "eager" (transformers' attention implementations)
    dtype: str = "float32"  # "float32" or "bfloat16"
    int8: bool = False  # the transformer's linear layers as dynamically quantized int8 (fbgemm)

    def __post_init__(self):
        if self.attention not in ("sdpa", "eager"):
            raise ValueError(f"attention must be 'sdpa' or 'eager', got {self.attention!r}")
        if self.dtype not in ("float32", "bfloat16"):
            raise ValueError(f"dtype must be 'float32' or 'bfloat16', got {self.dtype!r}")


def merged(model: torch.nn.Module) -> torch.nn.Module:
    """The plain model with any LoRA adapters folded into its weights (peft ``merge_and_unload``)."""
    return model.merge_and_unload() if hasattr(model, "merge_and_unload") else model


def quantize_int8(model: torch.nn.Module) -> None:
    """The linear layers of the transformer body (not the output layer, which the restricted decoding reads
    row by row) replaced in place by int8 dynamically quantized ones: weights per output channel, the
    activations quantized per call."""
    import warnings

    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    body = getattr(model, model.base_model_prefix)
    qconfig = per_channel_dynamic_qconfig
    with warnings.catch_warnings():  # torch announces the move of this API to torchao; it still works here
        warnings.simplefilter("ignore")
        quantize_dynamic(body, {torch.nn.Linear: qconfig}, inplace=True)


def prepare_for_inference(lm: MotionLM, cfg: InferenceConfig | None = None) -> MotionLM:
    """``lm`` made ready to decode, in place: LoRA merged, eval mode, no gradients, then ``cfg``'s choices."""
    cfg = cfg or InferenceConfig()
    model = merged(lm.model)
    model.eval()
    for q in model.parameters():
        q.requires_grad_(False)
    if cfg.dtype == "bfloat16":
        model.to(torch.bfloat16)
    if hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation(cfg.attention)
    if cfg.int8:
        quantize_int8(model)
    lm.model = model
    if lm.steps is not None:  # small: stays float32 whatever the backbone's dtype
        lm.steps.eval()
        for q in lm.steps.parameters():
            q.requires_grad_(False)
        lm.steps.freeze()
    return lm
