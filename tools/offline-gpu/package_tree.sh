# Sourced by train_gpu.sh and tokenizer.sh (with REPO set to the checkout): make motionlib importable from
# this checkout without pip or a build.
# motionlib's import namespace maps top-level folders (sim/, policies/, ...) into one package (see
# pyproject's package-dir); this rebuilds that tree with symlinks in $PKG and puts it on PYTHONPATH.
# Run inline code with `python3 -P` so the checkout's own motionlib/ folder does not shadow the tree
# (a script file is safe: its own folder, not the working directory, comes first on sys.path).
PKG="${PKG:-/tmp/motionlib_pkg}"  # where the tree is built
rm -rf "$PKG" && mkdir -p "$PKG/motionlib"
for f in "$REPO"/motionlib/*.py; do ln -s "$f" "$PKG/motionlib/"; done
for sub in motion sim policies retarget tokenizer llm cli; do ln -s "$REPO/$sub" "$PKG/motionlib/$sub"; done
export PYTHONPATH="$PKG${PYTHONPATH:+:$PYTHONPATH}"
