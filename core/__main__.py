"""`python -m core`: the command-line face of the task engine."""

from core.cli import main

raise SystemExit(main())
