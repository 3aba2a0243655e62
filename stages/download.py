"""Stage `download`: fetch AG News train/test CSVs (or copy them from a folder) and check MD5s.

The source is $AGNEWS_SOURCE when set, else params.yaml `data.source`, else `data.url`. DVC cannot see an
environment variable or the files behind a folder, so dvc.yaml runs this stage on every `dvc repro`
(`always_changed`); it keeps data/raw untouched, and nothing downstream reruns, when the source and its
files are the ones metrics/data.json records.
"""

import argparse
import logging
import os

from pipeline import cli, paths
from pipeline.download import SOURCE_ENV, download, unchanged
from pipeline.fileio import write_json
from pipeline.params import Params

log = logging.getLogger(__name__)


def main(args: argparse.Namespace, params: Params) -> None:
    data = params.data
    source = os.environ.get(SOURCE_ENV) or data.source or data.url
    record = paths.METRICS / "data.json"
    if unchanged(source, data.md5, paths.RAW, record):
        log.info("%s: the source and its files are the ones %s records; %s kept", source, record, paths.RAW)
        return
    stats = download(data.url, data.md5, paths.RAW, source)
    write_json(record, {"origin": source, **stats})


if __name__ == "__main__":
    p = cli.parser(__doc__ + f" Set {SOURCE_ENV}=/folder to copy local files instead of downloading.")
    cli.run(main, p.parse_args())
