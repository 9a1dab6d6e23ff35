"""`python -m bot`: the same as the `ladderbot` command."""

from bot.cli import main

raise SystemExit(main())
