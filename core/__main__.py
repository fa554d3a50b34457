"""`python -m core`: the command-line face of the task engine."""

from core.cli import exit_process, main

exit_process(main())
