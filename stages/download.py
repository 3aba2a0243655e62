"""Stage `download`: fetch AG News train/test CSVs (or copy them from $AGNEWS_SOURCE) and check MD5s."""

import os

from pipeline import cli, paths
from pipeline.download import SOURCE_ENV, download
from pipeline.fileio import write_json


def main(args, params) -> None:
    source = os.environ.get(SOURCE_ENV) or None
    data = params["data"]
    stats = download(data["url"], data["md5"], paths.RAW, source)
    write_json(paths.METRICS / "data.json", stats)


if __name__ == "__main__":
    p = cli.parser(__doc__ + f" Set {SOURCE_ENV}=/folder to copy local files instead of downloading.")
    cli.run(main, p.parse_args())
