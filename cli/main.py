"""``motionlib`` entry point: one command, one module per subcommand.

Each ``cli/cmd_*.py`` module exposes ``register(subparsers)`` which adds its
parser and sets ``func`` (a callable taking the parsed args, returning an exit
code). Commands that report figures take ``--json`` and then print exactly one
JSON object on stdout.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# Before torch loads its OpenMP runtime: idle OpenMP workers sleep instead of
# spinning, so they do not take the cores from MuJoCo's physics threads between
# torch ops (tracking env, refine, training on the CPU backend; measured +12%
# env-steps/s with the policy on 2 cores). A user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from motionlib import __version__

# Order here is the order in `motionlib --help`.
COMMANDS = ("ingest", "info", "render", "convert", "features", "corrupt", "tracker-sets", "wham-like", "train-tracker",
            "eval-tracker", "plot-curve", "refine", "train-tokenizer", "export-tokenizer", "tokenize", "detokenize",
            "eval-tokenizer", "tokenizer-profile", "train-lm", "export-lm", "generate", "caption", "train-evaluator", "eval-lm",
            "retarget", "render-robot", "robot", "playback", "store", "pipeline")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="motionlib",
        description="Physics-validated human motion at scale: ingest, inspect, render and convert SMPL motion clips.",
    )
    parser.add_argument("--version", action="version", version=f"motionlib {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        module = importlib.import_module(f"motionlib.cli.cmd_{name.replace('-', '_')}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError) as e:  # MotionError is a ValueError: name file + problem
        print(f"motionlib {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
