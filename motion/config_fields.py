"""Reading a typed dataclass config back from a dict (a checkpoint's or a run folder's saved config)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any


def known_fields(cls: type, d: dict[str, Any], what: str) -> dict[str, Any]:
    """``d`` checked against the fields of the dataclass ``cls``: ValueError naming ``what`` (e.g.
    "tokenizer config") and the fields it does not know, so a file from another version fails clearly."""
    unknown = sorted(set(d) - {f.name for f in fields(cls)})
    if unknown:
        raise ValueError(f"unknown {what} field(s) {unknown}")
    return dict(d)
