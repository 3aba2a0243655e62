"""Classify texts with a trained approach.

    python -m pipeline.predict --approach lstm_50_dense "Stocks rally as oil falls" "Cup final tonight"
    cat texts.txt | python -m pipeline.predict --approach bilstm_50          # one text per line
    python -m pipeline.predict --approach lstm_25 --csv news.csv --format csv  # AG News style CSV

Prints one JSON line per text (or CSV with ``--format csv``): the predicted class and the four
probabilities. Loads only the checkpoint, its JSON spec and the vocabulary.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from pipeline import paths
from pipeline.checkpoint import CheckpointError, load_checkpoint
from pipeline.corpus import read_corpus
from pipeline.inference import predict_texts
from pipeline.model import default_context
from pipeline.vocab import load_vocab

log = logging.getLogger("pipeline.predict")


def available_approaches(models_dir: Path) -> list[str]:
    return sorted(p.parent.name for p in models_dir.glob("*/spec.json"))


def classify(texts: Sequence[str], approach: str, models_dir: Path = paths.MODELS,
             vocab_path: Path = paths.VOCAB, batch_size: int = 1024) -> list[dict]:
    """Predicted class and probabilities for each text."""
    for i, text in enumerate(texts):
        if not text.strip():
            raise ValueError(f"text {i + 1} is empty; give some words to classify")
    directory = models_dir / approach
    if not directory.is_dir():
        known = available_approaches(models_dir)
        raise CheckpointError(f"no trained approach '{approach}' in {models_dir}/; trained approaches: "
                              f"{', '.join(known) if known else 'none (run `dvc repro` first)'}")
    vocab = load_vocab(vocab_path)
    ctx = default_context()
    net, spec = load_checkpoint(directory, len(vocab), ctx)
    prep = spec["preprocessing"]
    probs = predict_texts(net, list(texts), vocab, prep["lowercase"], prep["max_tokens"], ctx, batch_size)
    names = spec["class_names"]
    return [{"text": text, "predicted": names[int(p.argmax())],
             "probabilities": {n: round(float(v), 6) for n, v in zip(names, p, strict=False)}}
            for text, p in zip(texts, probs, strict=False)]


def _read_texts(args: argparse.Namespace) -> list[str]:
    if args.texts:
        return list(args.texts)
    if args.csv:
        return read_corpus(args.csv).texts
    return [line.rstrip("\r\n") for line in sys.stdin if line.strip()]


def _write(results: list[dict], fmt: str) -> None:
    if fmt == "jsonl":
        for row in results:
            sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
        return
    names = list(results[0]["probabilities"]) if results else []
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["text", "predicted", *names])
    for row in results:
        writer.writerow([row["text"], row["predicted"], *(row["probabilities"][n] for n in names)])


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pipeline.predict", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("texts", nargs="*", help="texts to classify (default: read stdin, one per line)")
    p.add_argument("--approach", required=True, help="a trained approach (a folder under models/)")
    p.add_argument("--csv", type=Path, help="an AG News style CSV (label,title,description) to classify")
    p.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    p.add_argument("--models", type=Path, default=paths.MODELS, help="models folder (default: %(default)s)")
    p.add_argument("--vocab", type=Path, default=paths.VOCAB, help="vocabulary JSON (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=1024)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s %(levelname)s %(message)s")
    try:
        texts = _read_texts(args)
        if not texts:
            raise ValueError("no texts given: pass them as arguments, on stdin or with --csv")
        _write(classify(texts, args.approach, args.models, args.vocab, args.batch_size), args.format)
    except (ValueError, FileNotFoundError) as exc:
        log.error("%s", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
