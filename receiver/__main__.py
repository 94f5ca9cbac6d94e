"""``python -m receiver --config receiver.yaml``: serve the alert receiver."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic import ValidationError

from receiver.server import serve
from receiver.settings import ReceiverSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m receiver", description=__doc__)
    parser.add_argument("--config", type=Path, help="receiver settings YAML")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    try:
        settings = ReceiverSettings.from_yaml(args.config) if args.config else ReceiverSettings()
    except (ValidationError, ValueError) as exc:
        print(f"receiver settings are not valid:\n{exc}", file=sys.stderr)
        return 2
    serve(settings, log_level=args.log_level)
    return 0


if __name__ == "__main__":
    sys.exit(main())
