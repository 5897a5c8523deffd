"""The user docs stay short, linked and free of work-diary words.

Four checks, each a plain function tested here on synthetic text and then run over the tree:

- README.md is at most ``MAX_README_LINES`` lines and opens with the set-up block (`make demo`, `make test`);
- README.md, docs/ and the project's code and scripts use no process words: the work diary's sessions
  ("the twenty-first session", "this session", "GPU session", "(session 12)"), issue numbers or letters
  ("issue B", "(issue D)", "issue #31") and lent machines and their limits ("lent", "device time",
  "MiB per call"). A motion-capture "capture session" or "recording session" is a thing measured, not a
  process word;
- every relative link in README.md and docs/ (``[text](path)``, ``[text](path#anchor)``) names a file that
  exists and, with an anchor, a heading of it (GitHub's slugs);
- every section reference in the code and the docs resolves. The form is a file, an optional comma and a
  quoted heading: ``README "Known limits"``, ``README, "Rewind"``, ``docs/tracking.md "Contacts"``
  (``README`` is the top-level README.md). The quoted name is a heading of that file or the leading words of
  one (``"Contacts"`` names "Contacts and what plausibility measures"), case aside. A ``docs/NAME.md`` path
  named anywhere in the code must exist.

Only the standard library is imported: this file runs in well under a second.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
MAX_README_LINES = 350

# the project's code and scripts (tests/ is left out: this file quotes the words it looks for)
CODE_DIRS = ("motion", "sim", "policies", "tokenizer", "llm", "retarget", "pipeline", "cli", "motionlib", "scripts",
             "benchmarks", "tools")
CODE_FILES = ("Makefile", ".ci/run", "pyproject.toml")
TEXT_SUFFIXES = {".py", ".sh", ".md", ".toml", ".json", ".txt", ".cfg", ".ini", ".yaml", ".yml"}
MAX_TEXT_BYTES = 2_000_000  # larger files are data, not prose
SKIP_DIRS = {"__pycache__", ".venv", "node_modules", ".git", "build", "dist"}

# --------------------------------------------------------------------------------------------------------
# process words

_UNITS = "first|second|third|fourth|fifth|sixth|seventh|eighth|ninth"
_ORDINAL = (rf"(?:(?:twenty|thirty|forty|fifty)[- ]?(?:{_UNITS})|{_UNITS}|tenth|eleventh|twelfth|"
            r"(?:thir|four|fif|six|seven|eigh|nine)teenth|twentieth|thirtieth|fortieth|fiftieth|"
            r"\d+(?:st|nd|rd|th))")
_RELATIVE = r"(?:the|this|next|previous|last|earlier|later|same|that|prior|following|current|one|each)"

PROCESS_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("ordinal session", re.compile(rf"\b{_ORDINAL}\s+sessions?\b", re.IGNORECASE)),
    ("relative session", re.compile(rf"\b{_RELATIVE}\s+sessions?\b(?!\.\w)", re.IGNORECASE)),
    ("machine session", re.compile(r"\b(?:GPU|CPU|device|lent|rented)\s+sessions?\b", re.IGNORECASE)),
    ("numbered session", re.compile(r"\bsessions?\s+(?:no\.\s*)?#?\d+\b", re.IGNORECASE)),
    # "issue B", "(issue D)", "issues B and C", "issue #31", "issue 31"; the letter is a capital
    ("issue number or letter", re.compile(r"\b(?i:issues?)\s+(?:#\s*\d+|\d+|[A-Z])\b")),
    ("lent machine", re.compile(r"\b(?:lent|rented)\b", re.IGNORECASE)),
    ("device limit", re.compile(r"\bdevice[- ](?:time|tool)\b", re.IGNORECASE)),
    ("per-call limit", re.compile(r"\bMiB\s+(?:per|a)\s+call\b|\bper[- ]call\s+limits?\b", re.IGNORECASE)),
)


def find_process_words(text: str) -> list[tuple[int, str, str]]:
    """(line number, kind, matched text) of every process word in ``text``."""
    hits = []
    for kind, pattern in PROCESS_PATTERNS:  # on the whole text: a phrase may break across lines
        for m in pattern.finditer(text):
            hits.append((text.count("\n", 0, m.start()) + 1, kind, " ".join(m.group(0).split())))
    return sorted(hits)


# --------------------------------------------------------------------------------------------------------
# markdown: headings, slugs, links

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def _prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) outside fenced code blocks, inline code removed."""
    out, in_fence = [], False
    for lineno, line in enumerate(text.splitlines(), 1):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if not in_fence:
            out.append((lineno, re.sub(r"`[^`]*`", "", line)))
    return out


def _heading_text(raw: str) -> str:
    """A heading as GitHub renders its text: links to their text, no code or emphasis marks."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", raw)
    return text.replace("`", "").replace("*", "").strip()


def markdown_headings(text: str) -> list[str]:
    """The rendered text of every heading outside code blocks, in order."""
    headings, in_fence = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        m = None if in_fence else _HEADING.match(line)
        if m:
            headings.append(_heading_text(m.group(2)))
    return headings


def github_slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    slug = heading.strip().lower()
    slug = re.sub(r"[^\w\- ]", "", slug)
    return slug.replace(" ", "-")


def heading_anchors(text: str) -> set[str]:
    """Every anchor GitHub gives the headings of ``text`` (repeats get -1, -2, ...)."""
    anchors, seen = set(), {}
    for heading in markdown_headings(text):
        slug = github_slug(heading)
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        anchors.add(slug if n == 0 else f"{slug}-{n}")
    return anchors


def broken_links(md_path: Path, text: str | None = None) -> list[str]:
    """Relative links of a markdown file that name no file, or no heading of it. Web links are not
    followed."""
    text = md_path.read_text(encoding="utf-8") if text is None else text
    problems = []
    for lineno, line in _prose_lines(text):
        for m in _LINK.finditer(line):
            target = m.group(1)
            if _SCHEME.match(target):
                continue
            path_part, _, anchor = target.partition("#")
            dest = md_path if path_part == "" else (md_path.parent / path_part)
            where = f"{md_path.name}:{lineno}: ({target})"
            if not dest.exists():
                problems.append(f"{where}: no such file")
                continue
            if anchor:
                if dest.is_dir() or dest.suffix.lower() != ".md":
                    problems.append(f"{where}: an anchor into a file that is not markdown")
                    continue
                dest_text = text if dest == md_path else dest.read_text(encoding="utf-8")
                if anchor.lower() not in heading_anchors(dest_text):
                    problems.append(f"{where}: no heading with the anchor #{anchor}")
    return problems


# --------------------------------------------------------------------------------------------------------
# section references from code and docs

SECTION_REF = re.compile(r"\b(README(?:\.md)?|docs/[\w./-]+?\.md)\b,?[ \t]*(?:\n[ \t]*(?:#|//)?[ \t]*)?"
                         r"\\?\"([A-Za-z][^\"\\\n]{0,119})\\?\"")
DOCS_PATH = re.compile(r"(?<![\w/.])docs/[\w./-]+?\.md\b")


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", _heading_text(s)).strip().lower()


def heading_matches(name: str, headings: list[str]) -> bool:
    """Whether ``name`` is a heading or the leading words of one (case and markdown marks aside)."""
    want = _norm(name)
    if not want:
        return False
    for heading in headings:
        have = _norm(heading)
        if have == want or (have.startswith(want) and not have[len(want)].isalnum()):
            return True
    return False


def broken_section_refs(text: str, root: Path, source: str = "<text>") -> list[str]:
    """Section references (``README "Heading"``, ``docs/x.md "Heading"``) and ``docs/*.md`` paths in
    ``text`` that do not resolve against the files under ``root``."""
    problems, cache = [], {}

    def headings_of(rel: str) -> list[str] | None:
        if rel not in cache:
            path = root / rel
            cache[rel] = markdown_headings(path.read_text(encoding="utf-8")) if path.is_file() else None
        return cache[rel]

    for m in SECTION_REF.finditer(text):
        rel = "README.md" if m.group(1).startswith("README") else m.group(1)
        lineno = text.count("\n", 0, m.start()) + 1
        headings = headings_of(rel)
        if headings is None:
            problems.append(f"{source}:{lineno}: {m.group(0)!r}: no file {rel}")
        elif not heading_matches(m.group(2), headings):
            problems.append(f"{source}:{lineno}: {m.group(0)!r}: {rel} has no heading {m.group(2)!r}")
    for m in DOCS_PATH.finditer(text):
        if not (root / m.group(0)).is_file():
            lineno = text.count("\n", 0, m.start()) + 1
            problems.append(f"{source}:{lineno}: {m.group(0)}: no such file")
    return problems


# --------------------------------------------------------------------------------------------------------
# the files

def doc_files(root: Path = ROOT) -> list[Path]:
    return [root / "README.md"] + sorted((root / "docs").rglob("*.md"))


def code_files(root: Path = ROOT) -> list[Path]:
    files = [root / name for name in CODE_FILES if (root / name).is_file()]
    for d in CODE_DIRS:
        if not (root / d).is_dir():
            continue
        for path in sorted((root / d).rglob("*")):
            if (path.is_file() and path.suffix in TEXT_SUFFIXES and path.stat().st_size <= MAX_TEXT_BYTES
                    and not SKIP_DIRS.intersection(path.relative_to(root).parts)):
                files.append(path)
    return files


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None


def process_word_report(paths: list[Path], root: Path = ROOT) -> list[str]:
    lines = []
    for path in paths:
        text = _read(path)
        for lineno, kind, word in find_process_words(text or ""):
            lines.append(f"{path.relative_to(root)}:{lineno}: {kind}: {word!r}")
    return lines


def readme_opening_commands(text: str) -> list[str]:
    """The commands of the first code block, if it comes before the first section; comments dropped."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("## "):
            return []
        if _FENCE.match(line):
            commands = []
            for body in lines[i + 1:]:
                if _FENCE.match(body):
                    break
                command = body.split("#", 1)[0].strip()
                if command:
                    commands.append(command)
            return commands
    return []


# --------------------------------------------------------------------------------------------------------
# the checkers on synthetic input

def test_process_words_flag_the_work_diary():
    flagged = [
        "Measured in the twenty-first session's run.",
        "until the fifteenth session",
        "(eighteenth session)",
        "the 12th session of the day",
        "as this session re-measured",
        "the next session should train longer",
        "an A/B of the session's start and end code",
        "the previous session, the last session, an earlier session",
        "One GPU session: a benchmark",
        "(session 12)",
        "Physics refinement (issue B)",
        "the figures of issue D's runs",
        "see issue #31 and issue 31",
        "issues B and C",
        "on the lent machine",
        "a rented GPU host",
        "15 minutes of device time",
        "at most 64 MiB per call",
        "the device tool carries it",
    ]
    for text in flagged:
        assert find_process_words(text), text


def test_process_words_leave_ordinary_text_alone():
    clean = [
        "dataset-1 is another capture session with contents dataset-2 lacks",
        "the recording session of dataset-2",
        "the first capture session and the second recording session",
        "The whole step stays on the device: nothing reads back to the host.",
        "Warp and torch issue work on different CUDA streams",
        "see the open issues for what lands here",
        "the session.log file and SESSION_S",
        "an issue with the fit (the issue was a proportions mismatch)",
        "the 2026-11-28 run; a silent failure; talent; lentil",
        "timings on one H200 GPU",
    ]
    for text in clean:
        assert find_process_words(text) == [], text


def test_process_words_report_line_numbers():
    hits = find_process_words("line one\nin the ninth session\nthird line (issue C)\nthe twelfth\n   session's run\n")
    assert [(n, kind) for n, kind, _ in hits] == [(2, "ordinal session"), (3, "issue number or letter"),
                                                 (4, "ordinal session")]
    assert hits[-1][2] == "twelfth session"


def test_github_slugs():
    assert github_slug("What `make demo` does") == "what-make-demo-does"
    assert github_slug("Install notes") == "install-notes"
    assert github_slug("GPU backend: MuJoCo Warp") == "gpu-backend-mujoco-warp"
    assert github_slug("Refine and evaluation at dataset scale (2 lanes)") == \
        "refine-and-evaluation-at-dataset-scale-2-lanes"
    assert github_slug("tracker_history / D135") == "tracker_history--d135"
    anchors = heading_anchors("# A\n## Notes\n```\n## not a heading\n```\n## Notes\n")
    assert anchors == {"a", "notes", "notes-1"}


def test_broken_links_are_reported(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A\n## Some heading\ntext\n")
    (tmp_path / "docs" / "curve.png").write_bytes(b"\x89PNG")
    readme = tmp_path / "README.md"
    readme.write_text(
        "# T\n## Local\n"
        "[ok](docs/a.md) [ok](docs/a.md#some-heading) ![img](docs/curve.png) [web](https://example.org/x)\n"
        "[self](#local) `[in code](nowhere.md)`\n"
        "```\n[in a block](nowhere.md)\n```\n"
        "[missing](docs/b.md) [bad anchor](docs/a.md#no-such-heading) [bad self](#nowhere)\n")
    problems = broken_links(readme)
    assert len(problems) == 3, problems
    assert "docs/b.md" in problems[0] and "no such file" in problems[0]
    assert "#no-such-heading" in problems[1]
    assert "#nowhere" in problems[2]


def test_broken_section_refs_are_reported(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text("# T\n## Known limits\n## Contacts and what plausibility measures\n")
    (tmp_path / "docs" / "tracking.md").write_text("# Tracking\n## Rewind\n")
    good = ('# chosen on the benchmark (README "Known limits")\n'
            '# (README, "Contacts"), docs/tracking.md "Rewind", see docs/tracking.md\n'
            'echo "see README \\"known limits\\""\n'
            '"""Quoted across a line: README,\n    "Rewind" is not a README heading"""\n')
    bad_lines = ['x = 1  # README "Foot chatter"\n',
                 '# docs/tracking.md, "Contacts"\n',
                 '# docs/missing.md "Rewind"\n',
                 '# README "Contact"\n',
                 '# results in docs/gone.md\n']
    assert broken_section_refs(good.replace("README,\n    \"Rewind\"", "README"), tmp_path) == []
    problems = broken_section_refs(good, tmp_path, "x.py")
    assert len(problems) == 1 and "x.py:4:" in problems[0] and "'Rewind'" in problems[0], problems
    for line in bad_lines:
        found = broken_section_refs(line, tmp_path, "x.py")
        assert found, line
        assert found[0].startswith("x.py:1:")


def test_readme_opening_block_reader():
    text = "# T\n\n```bash\nmake demo   # the demo\n            # more words\nmake test   # tests\n```\n## A\n"
    assert readme_opening_commands(text)[:2] == ["make demo", "make test"]
    assert readme_opening_commands("# T\n## A\n```\nmake demo\nmake test\n```\n") == []
    assert readme_opening_commands("# T\n```\nmake test\nmake demo\n```\n")[:2] != ["make demo", "make test"]


# --------------------------------------------------------------------------------------------------------
# the checks over the tree

def test_readme_is_short_and_opens_with_the_two_commands():
    text = README.read_text(encoding="utf-8")
    n = len(text.splitlines())
    assert n <= MAX_README_LINES, f"README.md has {n} lines (at most {MAX_README_LINES}); detail goes to docs/"
    assert text.startswith("# "), "README.md starts with its title"
    assert readme_opening_commands(text)[:2] == ["make demo", "make test"]


def test_readme_and_docs_have_no_process_words():
    hits = process_word_report(doc_files())
    assert not hits, "process words in the docs:\n" + "\n".join(hits)


def test_code_and_scripts_have_no_process_words():
    hits = process_word_report(code_files())
    assert not hits, "process words in the code and scripts:\n" + "\n".join(hits)


def test_readme_and_docs_links_resolve():
    problems = [p for path in doc_files() for p in broken_links(path)]
    assert not problems, "broken links:\n" + "\n".join(problems)


def test_section_references_in_docs_resolve():
    problems = [p for path in doc_files()
                for p in broken_section_refs(path.read_text(encoding="utf-8"), ROOT, str(path.relative_to(ROOT)))]
    assert not problems, "unresolved section references in the docs:\n" + "\n".join(problems)


def test_section_references_in_code_resolve():
    problems = []
    for path in code_files():
        text = _read(path)
        if text is not None:
            problems += broken_section_refs(text, ROOT, str(path.relative_to(ROOT)))
    assert not problems, "unresolved README/docs references in the code:\n" + "\n".join(problems)
