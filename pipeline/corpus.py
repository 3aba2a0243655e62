"""Read AG News CSV files (``"label","title","description"``, no header) with strict checks."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline import CLASS_NAMES, NUM_CLASSES, paths
from pipeline.errors import PipelineError


class CorpusError(PipelineError, ValueError):
    """A CSV file is not in the AG News format; the message names the file and line."""


@dataclass(frozen=True)
class Corpus:
    texts: list[str]
    labels: np.ndarray  # int32, 0-based class ids

    def __len__(self) -> int:
        return len(self.texts)


# A description may be megabytes long (the csv module's default limit is 128 KiB per field, and its error
# for a longer one would be reported as a malformed file).
csv.field_size_limit(2**31 - 1)


def missing_file(path: Path, shown: str | Path, hint: str = "") -> CorpusError | None:
    """The error for a CSV path that cannot be read as a file, or None (a pipe such as /dev/stdin is read)."""
    if path.is_dir():
        return CorpusError(f"{shown}: is a folder, expected a CSV file")
    if not path.exists():
        return CorpusError(f"{shown}: file not found{hint}")
    return None


def check_classes(corpus: Corpus, shown: str | Path) -> None:
    """A training split needs documents of at least two classes (a classifier of one class learns nothing,
    and scikit-learn refuses it only after every LSTM has trained)."""
    present = sorted({int(label) for label in corpus.labels})
    if len(present) < 2:
        found = ", ".join(f"{CLASS_NAMES[c]} (label {c + 1})" for c in present) or "none"
        raise CorpusError(f"{shown}: every row has the same class ({found}); a training split needs rows of "
                          f"at least two of the {NUM_CLASSES} classes")


def _decode(raw: bytes, path: str | Path) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CorpusError(f"{path}:{line}: bytes {raw[exc.start:exc.end]!r} are not valid UTF-8; "
                          "AG News files are UTF-8 encoded") from None


def _csv_problem(exc: csv.Error) -> str:
    text = str(exc)
    if "unexpected end of data" in text:
        return (f"malformed CSV ({text}): a quote opened in this row is never closed; "
                "fields are \"double-quoted\" and inner quotes doubled (\"\")")
    if "expected after" in text:
        return (f"malformed CSV ({text}): a stray quote inside a field, or a quote left open; inner "
                "quotes must be doubled (\"\")")
    return f"malformed CSV ({text})"


def read_corpus(path: str | Path, name: str | Path | None = None, missing_hint: str = "",
                raw: bytes | None = None) -> Corpus:
    """Parse one split; refuse anything that is not a well-formed AG News row.

    Windows line endings are accepted (the csv module folds ``\\r\\n``); the text of a row is
    ``title + " " + description`` as in the reference study. ``name`` is the file named in error
    messages (default ``path``: the download stage checks a temporary copy but names its source).
    ``raw``: the file's bytes when they were read already (a pipe cannot be read twice).
    """
    path = Path(path)
    shown = name if name is not None else path
    if raw is None and (problem := missing_file(path, shown, missing_hint)) is not None:
        raise problem
    raw = path.read_bytes() if raw is None else raw
    content = _decode(raw, shown).removeprefix("\ufeff")  # a byte-order mark is not a header
    if not content.strip():
        raise CorpusError(f"{shown}: file is empty; expected rows \"label\",\"title\",\"description\"")
    texts: list[str] = []
    labels: list[int] = []
    # newline="" keeps line numbers physical: str.splitlines would also split on U+2028 and friends.
    reader = csv.reader(io.StringIO(content, newline=""), strict=True)
    line = 1
    try:
        for row in reader:
            if not row:
                line = reader.line_num + 1
                continue
            if len(row) != 3:
                raise CorpusError(f"{shown}:{line}: found {len(row)} columns, expected 3 "
                                  "(\"label\",\"title\",\"description\")")
            label, title, description = row
            if not re.fullmatch(r"-?[0-9]+", label.strip()):
                hint = " (a header row? AG News files have none)" if line == 1 else ""
                raise CorpusError(f"{shown}:{line}: label {label!r} is not an integer 1..4{hint}")
            value = int(label)
            if not 1 <= value <= NUM_CLASSES:
                raise CorpusError(f"{shown}:{line}: label {value} is outside 1..{NUM_CLASSES}")
            text = f"{title} {description}".strip()
            if not text:
                raise CorpusError(f"{shown}:{line}: title and description are both empty; expected "
                                  "some text in at least one of them")
            texts.append(text)
            labels.append(value - 1)
            line = reader.line_num + 1
    except csv.Error as exc:
        raise CorpusError(f"{shown}:{line}: {_csv_problem(exc)}") from None
    return Corpus(texts=texts, labels=np.asarray(labels, dtype=np.int32))


def read_raw_split(split: str) -> Corpus:
    """A split the download stage wrote (``data/raw/<split>.csv``), for the stages that read it."""
    return read_corpus(paths.RAW / f"{split}.csv", missing_hint="; run `dvc repro download` first")


def label_counts(labels: np.ndarray) -> dict[str, int]:
    counts = np.bincount(labels, minlength=NUM_CLASSES)
    return {name: int(c) for name, c in zip(CLASS_NAMES, counts, strict=False)}
