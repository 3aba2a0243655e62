"""Classify texts with a trained approach.

    python -m pipeline.predict --approach lstm_50_dense "Stocks rally as oil falls" "Cup final tonight"
    cat texts.txt | python -m pipeline.predict --approach bilstm_50          # one text per line
    python -m pipeline.predict --approach lstm_25 --csv news.csv --format csv  # a CSV file

Prints one JSON line per text (or CSV with ``--format csv``), in input order: the text, the predicted
class and the four class probabilities. Texts are vectorized the way the approach was trained and
classified in batches of ``--batch-size``. Loads only the checkpoint (``models/<approach>/model.params``),
its checkpoint metadata (``models/<approach>/spec.json``) and the vocabulary (``data/vocab.json``): no params.yaml,
no caches, no DVC.

A CSV is read either as AG News rows (``"label","title","description"``, no header; the text is title +
description) or, when its first row is a header, from the column named by ``--text-column`` (default
``text``; a header with ``title`` and ``description`` columns and no ``text`` column uses both). On stdin,
blank lines are skipped; an empty text given as an argument or in a CSV is refused.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import io
import json
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import numpy as np

from pipeline import CLASS_NAMES, paths
from pipeline.cli import EXIT_BAD_INPUT, EXIT_INTERRUPTED, add_debug_flag, debugging, exit_now, one_line
from pipeline.corpus import CorpusError, missing_file, read_corpus
from pipeline.errors import CheckpointError, InputError, PipelineError
from pipeline.vocab import fingerprint, load_vocab


def available_approaches(models_dir: Path) -> list[str]:
    return sorted(p.parent.name for p in Path(models_dir).glob("*/spec.json"))


def check_texts(texts: Sequence[str], where: Sequence[str] | None = None) -> None:
    """Refuse an empty (or whitespace-only) text, naming where it came from."""
    for i, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            origin = where[i] if where is not None else f"text {i + 1}"
            raise InputError(f"{origin} is empty; give some words to classify")


def classify(texts: Sequence[str], approach: str, models_dir: Path = paths.MODELS,
             vocab_path: Path = paths.VOCAB, batch_size: int = 1024) -> list[dict]:
    """Predicted class and probabilities for each text, in input order."""
    check_texts(texts)
    if batch_size < 1:
        raise InputError(f"--batch-size {batch_size}: expected an integer >= 1")
    models_dir = Path(models_dir)
    directory = models_dir / approach
    if not directory.is_dir():
        known = available_approaches(models_dir)
        close = [k for k in known if k.startswith(approach)] or difflib.get_close_matches(approach, known, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise CheckpointError(f"no trained approach '{approach}' in {models_dir}/{hint}; trained approaches: "
                              f"{', '.join(known) if known else 'none (run `dvc repro` first)'}")
    # MXNet (about two seconds) loads once the cheap checks above have passed.
    from pipeline.checkpoint import load_checkpoint, load_members
    from pipeline.inference import predict_texts
    from pipeline.model import default_context

    vocab = load_vocab(vocab_path)
    ctx = default_context()
    net, metadata = load_checkpoint(directory, len(vocab), ctx, fingerprint(vocab))
    prep = metadata["preprocessing"]
    names = list(metadata.get("class_names") or CLASS_NAMES)
    probs = predict_texts(load_members(net, metadata, directory, ctx), list(texts), vocab, prep, ctx, batch_size)
    if not np.isfinite(probs).all():  # finite weights can still overflow; NaN is not valid JSON
        bad = int(np.flatnonzero(~np.isfinite(probs).all(axis=1))[0])
        raise CheckpointError(f"{directory}: the model gives non-finite probabilities for text {bad + 1}; "
                              f"retrain it (`dvc repro train@{approach}`)")
    return [{"text": text, "predicted": names[int(p.argmax())],
             "probabilities": {n: round(float(v), 6) for n, v in zip(names, p, strict=True)}}
            for text, p in zip(texts, probs, strict=True)]


def _is_label(value: str) -> bool:
    return value.strip().lstrip("-").isdigit()


def read_csv_texts(path: str | Path, text_column: str | None = None) -> list[str]:
    """The texts of a CSV file: AG News rows without a header, or one column of a CSV with a header."""
    path = Path(path)
    if (problem := missing_file(path, path)) is not None:
        raise problem
    raw = path.read_bytes()  # once: a pipe (/dev/stdin) cannot be read twice
    try:
        content = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        rows = [(num, row) for num, row in _csv_rows(content) if row]
    except csv.Error as exc:
        hint = "; is a quote left open?" if "end of data" in str(exc) or "expected after" in str(exc) else ""
        raise CorpusError(f"{path}: malformed CSV ({exc}){hint}") from None
    if not rows:
        raise CorpusError(f"{path}: no rows; expected AG News rows \"label\",\"title\",\"description\" or a "
                          "header with a 'text' column")
    header = rows[0][1]
    if text_column is None and len(header) == 3 and _is_label(header[0]):
        return read_corpus(path, raw=raw).texts  # AG News format: strict checks, line numbers in messages
    columns = [c.strip() for c in header]
    wanted = text_column or "text"
    if wanted in columns:
        picks = [columns.index(wanted)]
    elif text_column is None and {"title", "description"} <= set(columns):
        picks = [columns.index("title"), columns.index("description")]
    else:
        raise CorpusError(f"{path}: the header has no column '{wanted}' (columns: {', '.join(columns)}); "
                          "name the text column with --text-column, or give AG News rows without a header")
    texts, where = [], []
    for num, row in rows[1:]:
        if len(row) != len(header):
            raise CorpusError(f"{path}:{num}: found {len(row)} columns, the header has {len(header)}")
        texts.append(" ".join(row[i].strip() for i in picks).strip())
        where.append(f"{path}:{num}: the text")
    if not texts:
        raise CorpusError(f"{path}: the header is the only row; no texts to classify")
    check_texts(texts, where)
    return texts


def _csv_rows(content: str):
    reader = csv.reader(io.StringIO(content, newline=""), strict=True)
    line = 1
    for row in reader:
        yield line, row
        line = reader.line_num + 1


def _read_texts(args: argparse.Namespace) -> list[str]:
    if args.texts and args.csv:
        raise InputError("give texts as arguments or with --csv, not both")
    if args.texts:
        return list(args.texts)
    if args.csv:
        return read_csv_texts(args.csv, args.text_column)
    if sys.stdin.isatty():
        sys.stderr.write("reading texts from stdin, one per line; end with Ctrl-D\n")
    return _stdin_lines(sys.stdin.buffer.read())


def _stdin_lines(raw: bytes) -> list[str]:
    """Non-blank lines of stdin, which must be UTF-8 (as a --csv file must): undecodable bytes are refused
    instead of being written back as invalid UTF-8."""
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(f"stdin line {line}: bytes {raw[exc.start:exc.end]!r} are not valid UTF-8; give "
                         "UTF-8 text") from None
    return [line.rstrip("\r") for line in text.split("\n") if line.strip()]


def _write(results: list[dict], fmt: str, out=None) -> None:
    out = out or sys.stdout
    if fmt == "jsonl":
        for row in results:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        return
    names = list(results[0]["probabilities"]) if results else list(CLASS_NAMES)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["text", "predicted", *names])
    for row in results:
        writer.writerow([row["text"], row["predicted"], *(row["probabilities"][n] for n in names)])


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pipeline.predict", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("texts", nargs="*", help="texts to classify (default: read stdin, one per line)")
    p.add_argument("--approach", required=True, help="a trained approach (a folder under models/)")
    p.add_argument("--csv", type=Path, help="a CSV file to classify: AG News rows, or a header with a text column")
    p.add_argument("--text-column", help="the CSV column holding the text (default: text)")
    p.add_argument("--format", choices=("jsonl", "csv"), default="jsonl", help="output format (default: jsonl)")
    p.add_argument("--models", type=Path, default=paths.MODELS, help="models folder (default: %(default)s)")
    p.add_argument("--vocab", type=Path, default=paths.VOCAB, help="vocabulary JSON (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=1024, help="texts per inference batch (default: %(default)s)")
    add_debug_flag(p)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        texts = _read_texts(args)
        if not texts:
            raise InputError("no texts given: pass them as arguments, on stdin (one per line) or with --csv")
        _write(classify(texts, args.approach, args.models, args.vocab, args.batch_size), args.format)
        sys.stdout.flush()
    except (PipelineError, OSError) as exc:
        if isinstance(exc, BrokenPipeError):  # `... | head`: the reader has gone, not an error of ours
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
            return 0
        trace = traceback.format_exc() if debugging(args) else ""
        sys.stderr.write(f"error: {one_line(exc)}\n{trace}")
        return EXIT_BAD_INPUT
    return 0


def run() -> NoReturn:
    """The command: :func:`main`, and a Ctrl-C ends it with one line instead of a traceback (exit 130)."""
    try:
        code = main()
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        exit_now(EXIT_INTERRUPTED)  # skips teardown, which can abort with a batch still on MXNet's engine
    sys.exit(code)


if __name__ == "__main__":
    run()
