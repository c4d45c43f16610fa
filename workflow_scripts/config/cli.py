"""``python -m workflow_scripts.config [OVERLAY.yaml ...]``: the complete settings a run would use.

config.yaml, each overlay merged over it (as ``snakemake --configfile OVERLAY ...`` does), the
schema's defaults filled in and every check applied; printed as YAML, or the error naming the key.
"""

from __future__ import annotations

import argparse
import sys

import yaml

from workflow_scripts.config.validate import load_config
from workflow_scripts.errors import UserError, report_user_error


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workflow_scripts.config", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("overlays", nargs="*", help="config files merged over config.yaml, in order")
    args = parser.parse_args(argv)
    try:
        config = load_config(*args.overlays)
    except UserError as error:
        return report_user_error(error)
    sys.stdout.write(yaml.safe_dump(config, sort_keys=False))
    return 0

