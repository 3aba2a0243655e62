"""Where each stage reads and writes: the same paths dvc.yaml declares."""

from pathlib import Path

RAW = Path("data/raw")
VOCAB = Path("data/vocab.json")
CACHE = Path("data/cache")
EMBEDDINGS = Path("data/embeddings.npy")
MODELS = Path("models")
EXPLAIN_HTML = Path("data/explain")
METRICS = Path("metrics")
PLOTS = Path("plots")
REPORTS = Path("reports")


def cache_file(split: str) -> Path:
    return CACHE / f"{split}.npz"


def model_dir(approach: str) -> Path:
    return MODELS / approach
