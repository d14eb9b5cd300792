"""`python -m localorg` runs the CLI."""

from localorg.cli import main

raise SystemExit(main())
