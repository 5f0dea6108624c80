"""Run the command line: ``python -m geo SUBCOMMAND ...``."""

import sys

from geo.cli import main

sys.exit(main())
