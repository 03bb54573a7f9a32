"""`python -m bot`: the same entry point as the `vs-terminate-bot` console script."""

from bot.cli import main

raise SystemExit(main())
