"""The benchmark driver: peer venvs, Granian servers, wrk runs, /proc accounting, reports."""
