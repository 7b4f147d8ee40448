"""`python -m redraw_trainer.cli` is `redraw`."""

import sys

from redraw_trainer.cli import main

sys.exit(main())
