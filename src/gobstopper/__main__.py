"""``python -m gobstopper`` is the ``gobstopper`` command."""

from gobstopper.cli import main

raise SystemExit(main())
