"""``python -m ravine.lab.data download|verify NAME [--data-dir DIR] [--mirror URL]``: get or check a data set."""

from __future__ import annotations

import argparse
import sys

from ravine.lab.data.sources import DATASETS, DataError, dataset, download, locate, root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ravine.lab.data", description=__doc__)
    parser.add_argument("action", choices=("download", "verify"))
    parser.add_argument("name", choices=sorted(DATASETS))
    parser.add_argument("--data-dir", default=None, help="directory (default: $RAVINE_DATA, else the cache)")
    parser.add_argument("--mirror", default=None, help="base URL that replaces the official sources")
    args = parser.parse_args(argv)
    try:
        if args.action == "download":
            print(f"downloading {dataset(args.name).title} into {root(args.data_dir)[0] / args.name} ...")
            files = download(args.name, args.data_dir, mirror=args.mirror)
        else:
            files = locate(dataset(args.name), args.data_dir)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for name, path in files.items():
        print(f"ok  {name}  {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
