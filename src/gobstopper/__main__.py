"""``python -m gobstopper`` is the ``gobstopper`` command."""

from gobstopper.cli import main

# Guarded: Granian's spawned workers (--reload) import this module again by name.
if __name__ == "__main__":
    raise SystemExit(main())
