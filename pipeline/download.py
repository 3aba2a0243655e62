"""Fetch the two canonical AG News CSVs (or copy them from a local folder) and describe them."""

from __future__ import annotations

import hashlib
import logging
import shutil
import urllib.error
import urllib.request
from pathlib import Path

from pipeline.corpus import label_counts, read_corpus
from pipeline.fileio import atomic_path

log = logging.getLogger(__name__)
SPLITS = ("train", "test")
SOURCE_ENV = "AGNEWS_SOURCE"


class DownloadError(RuntimeError):
    """The source could not be read or did not hold what was expected."""


def md5sum(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fetch_url(url: str, dest: Path, timeout: float) -> None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, open(dest, "wb") as out:
            shutil.copyfileobj(resp, out)
    except (urllib.error.URLError, OSError) as exc:
        raise DownloadError(f"cannot download {url}: {getattr(exc, 'reason', exc)}. Offline? Set "
                            f"{SOURCE_ENV}=/path/to/folder holding train.csv and test.csv") from None


def fetch_split(split: str, source: str, expected_md5: str, dest: Path,
                timeout: float = 60.0) -> dict:
    """Place one split at ``dest`` and return what the metrics file records about it.

    A URL source must match the canonical MD5 (a mismatch is an error and nothing is kept). A local
    folder may hold a subset of AG News, so its MD5 is recorded and compared, not enforced.
    """
    local = not source.startswith(("http://", "https://"))
    origin = str(Path(source) / f"{split}.csv") if local else f"{source.rstrip('/')}/{split}.csv"
    with atomic_path(dest) as tmp:
        if local:
            src = Path(origin)
            if not src.is_file():
                raise DownloadError(f"{origin}: not found; {SOURCE_ENV} must name a folder holding "
                                    "train.csv and test.csv")
            shutil.copyfile(src, tmp)
        else:
            log.info("downloading %s", origin)
            _fetch_url(origin, tmp, timeout)
        actual = md5sum(tmp)
        canonical = actual == expected_md5
        if not canonical and not local:
            raise DownloadError(f"{origin}: MD5 mismatch: expected {expected_md5}, got {actual}; "
                                "the download was discarded")
        if not canonical:
            log.warning("%s: MD5 %s differs from the canonical %s (a local subset?)",
                        origin, actual, expected_md5)
        corpus = read_corpus(tmp)  # refuse a malformed file before it becomes an output
    return {
        "source": "local" if local else "url",
        "md5": actual,
        "canonical": canonical,
        "rows": len(corpus),
        "labels": label_counts(corpus.labels),
    }


def download(url: str, md5: dict[str, str], out_dir: Path, source: str | None = None) -> dict:
    """Fetch both splits; ``source`` (a folder) overrides ``url`` for offline use."""
    return {split: fetch_split(split, source or url, md5[split], out_dir / f"{split}.csv")
            for split in SPLITS}
