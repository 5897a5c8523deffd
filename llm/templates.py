"""Instruction templates over the clips' texts: text -> motion, motion -> text, continuation, in-betweening,
body-part requests, style change and length.

Templates are written compactly: ``(a|b|c)`` is an alternative (each one gives its own template) and
``{slot}`` is filled from the clip. :func:`expand` turns a source into its templates; :data:`TEMPLATES`
holds every task's templates (:func:`count` says how many: 263).

Slots. Text: ``{caption}`` (a whole-body caption clause, "a person walks forward in a tired way"),
``{seconds}``, ``{part}`` ("the left arm"), ``{part_text}`` ("the left hand waves"), ``{noun}`` (the
content as a noun, "walk"), ``{style}`` (a style adjective, "tired"), ``{manner}`` ("in a tired way").
Motion: ``{motion}`` (the clip, or its first part for continuation, its ends for in-betweening as
``{motion}`` ... ``{motion_end}``), and in answers ``{motion}`` (the clip or the missing part). Each
template's answer is exactly one slot, so that what the model writes after a prompt is the answer alone.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

TASKS = ("t2m", "m2t", "continue", "inbetween", "part_t2m", "part_m2t", "style", "length")
ALIGN_TASKS = ("t2m", "m2t")  # stage 1 (alignment): both directions, plain captions


@dataclass(frozen=True)
class Template:
    task: str
    prompt: str
    answer: str  # "{motion}", "{caption}" or "{part_text}"

    def slots(self) -> set[str]:
        return set(re.findall(r"\{(\w+)\}", self.prompt + self.answer))


_ALT = re.compile(r"\(([^()]*\|[^()]*)\)")


def expand(source: str) -> list[str]:
    """Every template a source with ``(a|b)`` alternatives stands for, in order, without repeats."""
    parts = _ALT.split(source)
    choices = [p.split("|") if i % 2 else [p] for i, p in enumerate(parts)]
    out = []
    for combo in itertools.product(*choices):
        s = re.sub(r"  +", " ", "".join(combo)).strip()
        if s not in out:
            out.append(s)
    return out


_VERB = "(Generate|Create|Produce|Make|Synthesize|Animate)"
_SOURCES: dict[str, tuple[tuple[str, str], ...]] = {
    "t2m": (
        (f"{_VERB} a (motion|movement|motion clip) in which {{caption}}.", "{motion}"),
        ("(Show|Demonstrate|Act out|Perform) how {caption}.", "{motion}"),
        ("(Give me|I need|I want) a motion (where|in which) {caption}.", "{motion}"),
        ("Motion (for|of) this description: {caption}", "{motion}"),
        ("(Text|Description|Caption): {caption} (Motion:|Write the motion.)", "{motion}"),
        ("How would it look if {caption}?", "{motion}"),
        ("(Could you|Can you|Would you) (generate|create|animate|show me) a motion (in which|where) {caption}?",
         "{motion}"),
        ("{caption}", "{motion}"),
    ),
    "m2t": (
        ("(Describe|Caption|Explain|Summarize) (this|the following) (motion|movement): {motion}", "{caption}"),
        ("What (is the person doing|happens|does the person do) in (this|the following) motion? {motion}",
         "{caption}"),
        ("{motion} (Describe this motion.|What is happening here?|Caption:|Description:)", "{caption}"),
        ("(Write|Give) a (caption|description|sentence) for {motion}", "{caption}"),
        ("Tell me (what|how) the person moves: {motion}", "{caption}"),
        ("(Could you|Can you) (describe|caption) this motion? {motion}", "{caption}"),
        ("(Look at|Watch) this motion and (describe|caption) it: {motion}", "{caption}"),
        ("In one sentence, (describe|caption) {motion}", "{caption}"),
        ("{motion}", "{caption}"),
    ),
    "continue": (
        ("(Continue|Extend|Complete|Finish) (this|the following) (motion|movement): {motion}", "{motion}"),
        ("Here is the (beginning|start) of a motion in which {caption}: {motion} (Continue it.|What comes next?)",
         "{motion}"),
        ("(Predict|Generate) (what comes next|the rest of the motion) after {motion}", "{motion}"),
        ("{motion} (Continue.|Keep going.|And then?)", "{motion}"),
    ),
    "inbetween": (
        ("(Fill in|Generate|Complete) the (middle|gap|missing part) between {motion} and {motion_end}", "{motion}"),
        ("(The motion starts with|It begins with) {motion} and (ends with|finishes with) {motion_end}. "
         "(Fill the gap.|What happens in between?|Generate the middle.)", "{motion}"),
        ("(In-between|Connect|Bridge) {motion} (and|with) {motion_end} (where|in a motion in which) {caption}",
         "{motion}"),
    ),
    "part_t2m": (
        (f"{_VERB} a (motion|movement) in which {{part_text}}.", "{motion}"),
        ("(Show|Perform) a motion (where|in which) {part_text}.", "{motion}"),
        ("(Body part|Focus on {part}): {part_text}", "{motion}"),
        ("(Could you|Can you) (generate|create|animate) a motion (in which|where) {part_text}?", "{motion}"),
    ),
    "part_m2t": (
        ("What does {part} do in (this|the following) (motion|movement)? {motion}", "{part_text}"),
        ("(Describe|Explain) the movement of {part} (in|during) {motion}", "{part_text}"),
        ("{motion} How does {part} move?", "{part_text}"),
        ("Focus on {part}: {motion}", "{part_text}"),
        ("(Which|What) movement does {part} make in {motion}?", "{part_text}"),
        ("(Look at|Watch) {part} in {motion} What does it do?", "{part_text}"),
        ("(Describe|Caption) only {part} (in|of) {motion}", "{part_text}"),
    ),
    "style": (
        ("(Here is|This is) a {noun}: {motion} (Now|Make) the same {noun}, but {style}.", "{motion}"),
        ("(Redo|Perform|Repeat) this (motion|{noun}) {manner}: {motion}", "{motion}"),
        ("(Change|Turn) this {noun} into (a {style} one|one that looks {style}): {motion}", "{motion}"),
        ("{motion} The same {noun}, but {style}.", "{motion}"),
        ("Make this (motion|{noun}) look {style}: {motion}", "{motion}"),
        ("(Keep|Use) the same {noun} but make it {style}: {motion}", "{motion}"),
        ("How would this {noun} look if the person were {style}? {motion}", "{motion}"),
        ("(Show|Perform|Do) this {noun} {manner}: {motion}", "{motion}"),
        ("{motion} Again, but {manner}.", "{motion}"),
    ),
    "length": (
        (f"{_VERB} a motion in which {{caption}}, (for|lasting) {{seconds}} seconds.", "{motion}"),
        ("(Show|Perform) for {seconds} seconds how {caption}.", "{motion}"),
        ("{caption}, for {seconds} seconds", "{motion}"),
        ("A {seconds}-second (motion|clip) (where|in which) {caption}.", "{motion}"),
        ("(For|During) {seconds} seconds, {caption}.", "{motion}"),
        ("(Duration|Length): {seconds} seconds. (Text|Description): {caption}", "{motion}"),
    ),
}


def _build() -> dict[str, tuple[Template, ...]]:
    out = {}
    for task, sources in _SOURCES.items():
        seen: list[Template] = []
        for prompt, answer in sources:
            for p in expand(prompt):
                t = Template(task, p, answer)
                if t not in seen:
                    seen.append(t)
        out[task] = tuple(seen)
    return out


TEMPLATES: dict[str, tuple[Template, ...]] = _build()

# The plain pair each direction uses for alignment (stage 1), for captioning and for `generate`.
T2M_PLAIN = Template("t2m", "{caption}", "{motion}")
M2T_PLAIN = Template("m2t", "Describe this motion: {motion}", "{caption}")


def count() -> dict[str, int]:
    """Templates per task, and ``total``."""
    c = {task: len(ts) for task, ts in TEMPLATES.items()}
    c["total"] = sum(c.values())
    return c
