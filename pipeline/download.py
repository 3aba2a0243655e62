"""Fetch the two canonical AG News CSVs (or copy them from a local folder) and describe them.

Both splits are fetched into temporary files and checked (MD5 for a URL source, the CSV format for
any source) before either output is replaced: a failure on ``test.csv`` leaves the previous
``train.csv`` in place too, and nothing half-downloaded is ever at an output path.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import shutil
import urllib.error
import urllib.request
from pathlib import Path

from pipeline.corpus import check_classes, label_counts, read_corpus
from pipeline.errors import PipelineError
from pipeline.fileio import atomic_paths

log = logging.getLogger(__name__)
SPLITS = ("train", "test")
SOURCE_ENV = "AGNEWS_SOURCE"


class DownloadError(PipelineError, RuntimeError):
    """The source could not be read or did not hold what was expected."""


def md5sum(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "md5").hexdigest()


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def _fetch_url(url: str, dest: Path, timeout: float) -> None:
    hint = (f"Offline? Set {SOURCE_ENV}=/path/to/folder holding train.csv and test.csv, or fix data.url "
            "in params.yaml")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, open(dest, "wb") as out:
            shutil.copyfileobj(resp, out)
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"cannot download {url}: HTTP {exc.code} {exc.reason}. {hint}") from None
    except urllib.error.URLError as exc:
        raise DownloadError(f"cannot download {url}: {exc.reason}. {hint}") from None
    except (http.client.HTTPException, OSError) as exc:  # connection reset, timeout, short read
        reason = str(exc) or type(exc).__name__
        raise DownloadError(f"cannot download {url}: {reason} (the transfer broke off). {hint}") from None


def _origin(split: str, source: str) -> str:
    return f"{source.rstrip('/')}/{split}.csv" if is_url(source) else str(Path(source) / f"{split}.csv")


def _check_local_source(source: str) -> None:
    folder = Path(source)
    if not folder.is_dir():
        raise DownloadError(f"{folder}: no such folder; {SOURCE_ENV} must name a folder holding "
                            "train.csv and test.csv")
    folders = [f"{s}.csv" for s in SPLITS if (folder / f"{s}.csv").is_dir()]
    if folders:
        raise DownloadError(f"{folder}: {' and '.join(folders)} is a folder there, expected a CSV file")
    missing = [f"{s}.csv" for s in SPLITS if not (folder / f"{s}.csv").is_file()]
    if missing:
        raise DownloadError(f"{folder}: {' and '.join(missing)} not found there; {SOURCE_ENV} must name a "
                            "folder holding train.csv and test.csv")


def fetch_split(split: str, source: str, expected_md5: str, tmp: Path, timeout: float = 60.0) -> dict:
    """Place one split at ``tmp`` and return what the metrics file records about it.

    A URL source must match the canonical MD5 (a mismatch is an error). A local folder may hold a
    subset of AG News, so its MD5 is recorded and compared, not enforced.
    """
    local = not is_url(source)
    origin = _origin(split, source)
    if local:
        src = Path(origin)
        if not src.is_file():
            _check_local_source(source)
        shutil.copyfile(src, tmp)
    else:
        log.info("downloading %s", origin)
        _fetch_url(origin, tmp, timeout)
    actual = md5sum(tmp)
    canonical = actual == expected_md5
    if not canonical and not local:
        raise DownloadError(f"{origin}: MD5 mismatch: expected {expected_md5} (params.yaml data.md5.{split}), "
                            f"got {actual}; the download was discarded and the previous data was kept")
    if not canonical:
        log.warning("%s: MD5 %s differs from the canonical %s (a local subset?)", origin, actual, expected_md5)
    corpus = read_corpus(tmp, name=origin)  # refuse a malformed file before it becomes an output
    if split == "train":
        check_classes(corpus, origin)
    return {
        "source": "local" if local else "url",
        "md5": actual,
        "canonical": canonical,
        "rows": len(corpus),
        "labels": label_counts(corpus.labels),
    }


def download(url: str, md5: dict[str, str], out_dir: Path, source: str | None = None,
             timeout: float = 60.0) -> dict:
    """Fetch both splits; ``source`` (a folder) overrides ``url`` for offline use.

    The outputs are replaced only once both splits have been fetched and checked.
    """
    source = source or url
    if not is_url(source):
        _check_local_source(source)  # refuse before copying anything
    stats = {}
    with atomic_paths([out_dir / f"{split}.csv" for split in SPLITS]) as temps:
        for split, tmp in zip(SPLITS, temps, strict=True):
            stats[split] = fetch_split(split, source, md5[split], tmp, timeout)
    return stats


def unchanged(source: str, md5: dict[str, str], out_dir: Path, record: Path) -> bool:
    """Whether ``out_dir`` already holds what ``source`` would give: ``record`` (metrics/data.json) names the
    same source, the files in ``out_dir`` have the MD5s it records, and so do the source's files (a URL
    source is trusted to serve the canonical ``md5``; a folder is read, so edited files are noticed)."""
    try:
        recorded = json.loads(record.read_text(encoding="utf-8"))
        if recorded.get("origin") != source:
            return False
        hashes = {split: recorded[split]["md5"] for split in SPLITS}
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        return False
    if any(not (out_dir / f"{s}.csv").is_file() or md5sum(out_dir / f"{s}.csv") != hashes[s] for s in SPLITS):
        return False
    if is_url(source):
        return hashes == md5
    folder = Path(source)
    if not folder.exists():
        # A relative source in a copy of the project (`dvc exp run --queue` runs in .dvc/tmp/exps/...).
        log.warning("%s: not found from %s; keeping %s, which was copied from it", source, Path.cwd(), out_dir)
        return True
    return all((folder / f"{s}.csv").is_file() and md5sum(folder / f"{s}.csv") == hashes[s] for s in SPLITS)
