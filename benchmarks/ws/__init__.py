"""The WebSocket benchmark (issue #20): fan-out to a room and per-connection echo.

``cli`` parses the command line, ``peers`` names the apps (``benchmarks/apps/ws_*.py``),
``server`` runs one under Granian, ``check`` verifies it with the ``websockets`` package,
``bench`` runs the rounds, each load in its own process (``client``, on ``wire``, with
``fanout`` and ``echo`` and their ``measure``ments), and ``report`` writes the results.
"""
