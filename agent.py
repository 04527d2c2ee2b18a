"""Custody's entry point from a checkout: `python agent.py scan|catalog|demo|run|serve …`.

The same command line is installed as `custody` (runtime/cli.py); see `python agent.py --help`.
"""

import sys

from runtime.cli import main

if __name__ == "__main__":
    sys.exit(main())
