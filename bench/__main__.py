"""`python -m bench`: the one-command benchmark (see bench/suite.py)."""

import sys

from bench.suite import main

sys.exit(main())
