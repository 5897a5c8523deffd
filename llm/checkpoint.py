"""Language-model checkpoints: one folder, written atomically.

``<run>/last/`` (and ``<run>/best/``, the save with the lowest validation loss, and the shipped form, both
without ``trainer.pt``) holds

* ``lm.json``: format/version, the :class:`~.config.LMTrainConfig`, the step, the MotionBook tokenizer id
  the model reads and writes, ``kind`` ("lora" or "full"), the last validation loss;
* ``adapter/`` (LoRA: peft's ``adapter_model.safetensors`` with the adapters and the new tokens' embedding
  rows, and ``adapter_config.json``; the backbone comes from its own file at load time) or ``model/`` (full
  fine-tuning: the whole model as safetensors with its tokenizer, so the folder needs no backbone beside it);
* ``steps.safetensors`` (the grouped layout, ``config.layout``): the step coder (code table, step embedding,
  part head) in full;
* ``trainer.pt`` (only to resume): the optimizer state, and ``trainer.json`` the data sampler's state.

The folder is written beside the target under a temporary name and swapped in with renames, so a crash
leaves the old checkpoint or the new one, never a mix.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from motionlib.motion.atomic import atomic_dir
from motionlib.motion.errors import MotionError
from motionlib.motion.weights import load_weights

from .checkpoint_meta import read_checkpoint_meta
from .config import LMTrainConfig
from .model import InferenceConfig, MotionLM, build_lm, prepare_for_inference

FORMAT = "motionlib.lm"
VERSION = 1
META = "lm.json"
STEPS = "steps.safetensors"


def save_lm(path: str | os.PathLike, lm: MotionLM, cfg: LMTrainConfig, step: int, tokenizer_id: str,
            optimizer: torch.optim.Optimizer | None = None, trainer_state: dict | None = None,
            extra: dict[str, Any] | None = None) -> Path:
    path = Path(path)
    with atomic_dir(path) as tmp:
        kind = "lora" if cfg.lora else "full"
        if cfg.lora:  # the adapters and the new tokens' rows only, not the resized embedding matrices
            lm.model.save_pretrained(tmp / "adapter", save_embedding_layers=False)
        else:
            lm.model.save_pretrained(tmp / "model")
            lm.tokenizer.save_pretrained(tmp / "model")
        if lm.steps is not None:
            from safetensors.torch import save_file

            save_file({k: v.detach().cpu().contiguous() for k, v in lm.steps.state_dict().items()},
                      str(tmp / STEPS))
        meta = {"format": FORMAT, "version": VERSION, "kind": kind, "step": int(step), "tokenizer_id": tokenizer_id,
                "config": cfg.to_dict(), **(extra or {})}
        (tmp / META).write_text(json.dumps(meta, indent=1) + "\n")
        if optimizer is not None:
            torch.save({"optimizer": optimizer.state_dict(), "step": int(step)}, tmp / "trainer.pt")
            (tmp / "trainer.json").write_text(json.dumps(trainer_state or {}) + "\n")
    return path


def read_meta(path: str | os.PathLike) -> dict:
    """``lm.json`` of a checkpoint folder (a run folder means its ``best``, the lowest validation loss, when
    it has one, else its ``last``)."""
    return read_checkpoint_meta(path, META, FORMAT, VERSION, "language-model checkpoint", ("best", "last"))


def load_lm(path: str | os.PathLike, device: str = "cpu", trainable: bool = False,
            backbone: str | None = None, inference: InferenceConfig | None = None) -> tuple[MotionLM, dict]:
    """(model, metadata) of a checkpoint. ``trainable``: keep the LoRA wrapper (to train on); otherwise the
    model is made ready to decode by :func:`~.model.prepare_for_inference` (adapters merged into the weights,
    eval mode, ``inference``'s choices, float32 by default). ``backbone`` overrides the stored backbone path
    (the same model in another place)."""
    meta = read_meta(path)
    p = Path(meta["path"])
    cfg = LMTrainConfig.from_dict(meta["config"])
    bb = backbone if backbone is not None else cfg.backbone
    if meta["kind"] == "full" and backbone is None and _has_tokenizer(p / "model"):
        bb = str(p / "model")  # self-contained: the fine-tuned model and its tokenizer
    if meta["kind"] == "lora":
        lm = build_lm(bb, cfg.vocab, True, cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout, init_rows=False,
                      layout=cfg.layout, group_dim=cfg.group_dim, code_bits=cfg.code_bits)
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        f = p / "adapter" / "adapter_model.safetensors"
        if not f.is_file():
            raise MotionError("checkpoint lacks its adapter weights", str(f))
        result = set_peft_model_state_dict(lm.model, load_file(str(f)))
        # a tied output layer shares the input embedding's new rows: its own copy is not loaded
        unexpected = [k for k in getattr(result, "unexpected_keys", []) or []
                      if not k.endswith("lm_head.token_adapter.trainable_tokens_delta")]
        if unexpected:
            raise MotionError(f"adapter weights do not fit the backbone ({unexpected[:3]})", str(f))
    else:
        from transformers import AutoModelForCausalLM

        lm = build_lm(bb, cfg.vocab, lora=False, init_rows=False, layout=cfg.layout, group_dim=cfg.group_dim,
                      code_bits=cfg.code_bits)
        folder = p / "model"
        try:
            lm.model = AutoModelForCausalLM.from_pretrained(str(folder), local_files_only=True)
        except (OSError, ValueError) as e:
            raise MotionError(f"cannot load the fine-tuned model ({str(e).splitlines()[0]})", str(folder)) from None
        if trainable:
            for q in lm.model.parameters():
                q.requires_grad_(True)
    if lm.steps is not None:
        _load_steps(lm, p / STEPS, trainable)
    lm.model.to(device)
    if lm.steps is not None:
        lm.steps.to(device)
    if not trainable:
        prepare_for_inference(lm, inference)
    return lm, meta


def _has_tokenizer(folder: Path) -> bool:
    return (folder / "tokenizer_config.json").is_file() and (folder / "config.json").is_file()


def export_lm(run: str | os.PathLike, out: str | os.PathLike, backbone: str | None = None) -> Path:
    """The checkpoint of ``run`` (a run folder means its ``best``, else its ``last``) as a folder to ship or hand on: the same
    without the optimizer and sampler state; a fully fine-tuned model also gets its backbone's tokenizer
    (when the checkpoint lacks it), so it loads with nothing beside it. Written atomically."""
    import shutil

    meta = read_meta(run)
    src = Path(meta["path"])
    cfg = LMTrainConfig.from_dict(meta["config"])
    out = Path(out)
    with atomic_dir(out) as tmp:
        for f in src.iterdir():
            if f.name in ("trainer.pt", "trainer.json"):
                continue
            (shutil.copytree if f.is_dir() else shutil.copyfile)(f, tmp / f.name)
        if meta["kind"] == "full" and not _has_tokenizer(tmp / "model"):
            from .backbone import load_tokenizer, resolve_backbone

            load_tokenizer(resolve_backbone(backbone if backbone is not None else cfg.backbone)).save_pretrained(
                tmp / "model")
        m = json.loads((tmp / META).read_text())
        m["exported_from"] = {"run": str(src), "step": m.get("step")}
        (tmp / META).write_text(json.dumps(m, indent=1) + "\n")
    return out


def _load_steps(lm: MotionLM, f: Path, trainable: bool) -> None:
    from safetensors.torch import load_file

    if not f.is_file():
        raise MotionError("checkpoint of the grouped layout lacks its step coder", str(f))
    try:
        lm.steps.load_state_dict(load_file(str(f)))
    except RuntimeError as e:
        raise MotionError(f"step coder weights do not fit the config ({str(e).splitlines()[0]})", str(f)) from None
    for q in lm.steps.parameters():
        q.requires_grad_(trainable)


def load_trainer_state(path: str | os.PathLike) -> tuple[dict | None, dict]:
    """(optimizer state or None, sampler state) saved beside a checkpoint for resuming."""
    p = Path(path)
    if not (p / "trainer.pt").is_file():
        return None, {}
    obj = load_weights(p / "trainer.pt", "language-model trainer state")
    js = p / "trainer.json"
    state = json.loads(js.read_text()) if js.is_file() else {}
    return obj.get("optimizer"), state
