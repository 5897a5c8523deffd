"""``DIR/manifest.json``: each clip's status per stage, written atomically by the driver only.

::

    {"format": "motionlib.pipeline", "version": 1, "stages": ["ingest", ...],
     "clips": {"<id>": {"source": "<file>",
                        "stages": {"ingest": {"status": "done", "outputs": ["clips/<id>.npz"], "frames": 120,
                                              "motion_s": 4.0, "seconds": 1.9, "shard": "<with --store>"},
                                   "refine": {"status": "failed", "error": "<file>: ..."},
                                   "features": {"status": "pending", "after": "refine failed"}}}},
     "problems": [{"source": "<path>", "error": "..."}]}

A status is ``done`` (the outputs exist and load; a rerun that finds them so keeps them), ``failed`` (with
the error, which names the file) or ``pending`` (not reached: the run was stopped, or an earlier stage of
the clip failed, ``after``). The driver rewrites the file as results arrive, at most every ``flush_s``
seconds (longer for a large manifest, see :meth:`Manifest.flush`) and at the end. A killed driver loses the
tasks in flight and the results since the last write; a rerun checks every clip's outputs on disk again
whatever the manifest says, so those results are found there, not redone.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from motionlib.motion.atomic import write_text_atomic
from motionlib.motion.errors import MotionError

FORMAT = "motionlib.pipeline"
VERSION = 1
INDENT_UP_TO = 10_000  # clips: a larger manifest is written without indentation


class Manifest:
    def __init__(self, out: str | os.PathLike, flush_s: float = 1.0):
        self.path = Path(out) / "manifest.json"
        self.flush_s = flush_s
        self.doc: dict = {"format": FORMAT, "version": VERSION, "stages": [], "clips": {}, "problems": []}
        self._dirty = False
        self._last = 0.0
        self._write_s = 0.0  # how long the last write took

    @classmethod
    def load(cls, out: str | os.PathLike, flush_s: float = 1.0) -> "Manifest":
        """The run folder's manifest, or a new one when there is none yet."""
        m = cls(out, flush_s)
        if m.path.is_file():
            try:
                doc = json.loads(m.path.read_text())
            except (OSError, ValueError) as e:
                raise MotionError(f"cannot read the pipeline manifest ({e})", str(m.path)) from None
            if doc.get("format") != FORMAT:
                raise MotionError("not a motionlib pipeline manifest", str(m.path))
            if doc.get("version") != VERSION:
                raise MotionError(f"unsupported pipeline manifest version {doc.get('version')}", str(m.path))
            m.doc = doc
        return m

    # ------------------------------------------------------------------------------------------ contents

    def start(self, stages: tuple[str, ...], units: list, problems: list[tuple[str, str]]) -> None:
        """A run begins: its units get an entry (pending where they have none) for each of its stages; what
        earlier runs recorded stays until this one's results replace it."""
        self.doc["stages"] = [s for s in self.doc.get("stages", []) if s not in stages] + list(stages)
        clips = self.doc["clips"]
        for u in units:
            entry = clips.setdefault(u.id, {"source": u.source, "stages": {}})
            entry["source"] = u.source
            for s in stages:
                entry["stages"].setdefault(s, {"status": "pending"})
        self.doc["problems"] = [{"source": s, "error": e} for s, e in problems]
        self._dirty = True

    def entry(self, uid: str, stage: str) -> dict:
        return self.doc["clips"][uid]["stages"].get(stage, {"status": "pending"})

    def set(self, uid: str, stage: str, result: dict) -> None:
        """Record a task's result for one clip (``status`` done, skipped or failed)."""
        if result["status"] == "failed":
            rec = {"status": "failed", "error": result["error"]}
        else:
            rec = {"status": "done", **{k: result[k] for k in ("outputs", "frames", "motion_s", "seconds", "shard")
                                        if k in result}}
            if result.get("info") is not None:
                rec["info"] = result["info"]
        self.doc["clips"][uid]["stages"][stage] = rec
        self._dirty = True

    def set_pending(self, uid: str, stage: str, after: str) -> None:
        self.doc["clips"][uid]["stages"][stage] = {"status": "pending", "after": after}
        self._dirty = True

    def counts(self, stage: str, ids: list[str] | None = None) -> dict[str, int]:
        """Clips per status of ``stage`` (over ``ids``, default all clips having the stage)."""
        out = {"done": 0, "failed": 0, "pending": 0}
        for uid, c in self.doc["clips"].items():
            if (ids is None or uid in ids) and stage in c["stages"]:
                out[c["stages"][stage]["status"]] += 1
        return out

    # ----------------------------------------------------------------------------------------- writing

    def flush(self, force: bool = False) -> bool:
        """Write the manifest when it changed and the interval has passed since the last write (or ``force``).
        The interval is ``flush_s``, or 20 times what the last write took when that is longer, so that a
        large manifest costs the driver at most about 5% of its time."""
        now = time.monotonic()
        if not self._dirty or (not force and now - self._last < max(self.flush_s, 20 * self._write_s)):
            return False
        self.doc["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        # indented while a person may read it; a large one (a run of many clips) is written compactly
        text = json.dumps(self.doc, indent=1 if len(self.doc["clips"]) <= INDENT_UP_TO else None)
        write_text_atomic(self.path, text)
        self._dirty, self._last = False, now
        self._write_s = time.monotonic() - now
        return True
