"""Every code block of README.md and docs/ runs as a test (see runner.py)."""
