"""The ``gobstopper`` command: routes, run, errors, ``python -m gobstopper``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from gobstopper.cli import build_parser, load_app, main
from tests.servers import ROOT, free_port, wait_for_port

APP_SOURCE = textwrap.dedent('''
    import os
    from gobstopper import Blueprint, Gobstopper

    app = Gobstopper("cli_app")
    other = Gobstopper("other")

    async def timing(request, call_next):
        return await call_next(request)

    app.add_middleware(timing, priority=5)

    @app.on_shutdown
    def record_shutdown():
        path = os.environ.get("CLI_APP_SHUTDOWN_FILE")
        if path:
            with open(path, "a") as handle:
                handle.write(f"{os.getpid()}\\n")

    @app.get("/")
    async def index(request):
        return {"hello": "cli", "pid": os.getpid()}

    @app.get("/users/<int:user_id>", name="user_detail")
    async def user(request, user_id):
        return {"user": user_id}

    admin = Blueprint("admin", url_prefix="/admin")
    admin.get("/login")(lambda request: "login")
    app.register_blueprint(admin)
    not_an_app = 42
''')


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "cli_app.py").write_text(APP_SOURCE)
    return tmp_path


def run_cli(args: list[str], cwd: Path, **kwargs) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run([sys.executable, "-m", "gobstopper", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60, **kwargs)


def test_routes_prints_the_routing_report(project):
    result = run_cli(["routes", "cli_app:app"], project)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "=== Routing Visualization ==="
    assert "MW(prio=5): timing" in lines
    assert "Blueprint: admin prefix=/admin" in lines
    assert "Route ['GET'] /users/<int:user_id> -> user_detail MW order: ['timing']" in lines
    assert "Route ['GET'] /admin/login -> admin.<lambda> MW order: ['timing']" in lines
    assert lines[-1] == "=== End Visualization ==="


def test_routes_defaults_the_attribute_to_app(project):
    assert run_cli(["routes", "cli_app"], project).returncode == 0


@pytest.mark.parametrize(
    ("target", "message"),
    [("missing_module:app", "cannot import 'missing_module'"),
     ("cli_app:nope", "cli_app has no attribute 'nope'"),
     ("cli_app:not_an_app", "is not an RSGI app"),
     (":app", "expected module:app")],
)
def test_routes_errors_are_one_line_with_status_2(project, target, message):
    result = run_cli(["routes", target], project)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_run_option_errors_are_reported_before_serving(project):
    result = run_cli(["run", "cli_app:app", "--workers", "0"], project)
    assert result.returncode == 2 and "--workers" in result.stderr
    result = run_cli(["run", "cli_app:app", "--port", "70000"], project)
    assert result.returncode == 2 and "--port" in result.stderr
    result = run_cli(["run", "cli_app:app", "--loop", "tokio"], project)
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_help_and_missing_command():
    assert "run" in build_parser().format_help()
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2


def test_load_app_in_process(project, monkeypatch):
    monkeypatch.chdir(project)
    monkeypatch.syspath_prepend(str(project))
    app = load_app("cli_app:app")
    assert app.name == "cli_app"
    assert load_app("cli_app:other").name == "other"


@pytest.mark.e2e
@pytest.mark.parametrize("workers", [1, 2])
def test_run_serves_with_granian_and_stops_cleanly_on_sigterm(project, workers):
    port = free_port()
    shutdown_file = project / "shutdowns.txt"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"),
           "CLI_APP_SHUTDOWN_FILE": str(shutdown_file)}
    log_path = project / "run.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gobstopper", "run", "cli_app:app", "--host", "127.0.0.1",
             "--port", str(port), "--workers", str(workers), "--threads", "1",
             "--loop", "asyncio"],
            cwd=project, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        wait_for_port(port, process, 30)
        pids = set()
        deadline = time.monotonic() + 20
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            assert client.get("/users/7").json() == {"user": 7}
            assert client.get("/admin/login").text == "login"
            while len(pids) < workers and time.monotonic() < deadline:
                with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as fresh:
                    pids.add(fresh.get("/").json()["pid"])
        assert len(pids) == workers
        os.killpg(process.pid, signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
    recorded = shutdown_file.read_text().split()
    assert len(recorded) == workers, log_path.read_text()


@pytest.mark.parametrize(("flag", "package"), [(["--reload"], "watchfiles"),
                                               (["--loop", "uvloop"], "uvloop")])
def test_run_names_missing_optional_packages(project, monkeypatch, capsys, flag, package):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == package else real_find_spec(name, *a))
    monkeypatch.chdir(project)
    assert main(["run", "cli_app:app", *flag]) == 2
    assert package in capsys.readouterr().err
