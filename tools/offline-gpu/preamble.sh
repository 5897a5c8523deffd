# Sourced first by train_gpu.sh and tokenizer.sh (after they set HERE, this folder): OUT, the folder whose
# files come back from the GPU host, must be set; REPO is the checkout, where the work runs.
: "${OUT:?set OUT to the folder that comes back}"
REPO="$(cd "$HERE/../.." && pwd)"
cd "$REPO"
mkdir -p "$OUT"
