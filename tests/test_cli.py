"""The ``gobstopper`` command: routes, run, tasks, help, errors, ``python -m gobstopper``."""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
import tomllib
from collections.abc import Iterator
from datetime import datetime
from importlib import metadata
from pathlib import Path

import httpx
import pytest

from gobstopper.cli import build_parser, load_app, main
from gobstopper.tasks import TaskInfo, TaskPriority, TaskStatus, TaskStorage
from tests.servers import ROOT, free_port, wait_for_port

APP_SOURCE = textwrap.dedent("""
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
""")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "cli_app.py").write_text(APP_SOURCE)
    return tmp_path


@pytest.fixture(autouse=True)
def no_server_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail, rather than serve forever, if an in-process ``main`` reaches Granian."""
    from granian import Granian

    def refuse(self: Granian, *args: object, **kwargs: object) -> None:
        raise AssertionError("the test started a server in-process")

    monkeypatch.setattr(Granian, "serve", refuse)


def run_cli(args: list[str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``python -m gobstopper *args`` and return what it printed.

    A command still running at ``timeout`` is killed with every process it started
    (a server it should have refused to start, say), and the test fails.
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    command = [sys.executable, "-m", "gobstopper", *args]
    with subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


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
    [
        ("missing_module:app", "cannot import 'missing_module'"),
        ("cli_app:nope", "cli_app has no attribute 'nope'"),
        ("cli_app:not_an_app", "is not an RSGI app"),
        (":app", "expected module:app"),
    ],
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
@pytest.mark.parametrize(("workers", "interface"), [(1, "rsgi"), (2, "rsgi"), (2, "asgi")])
def test_run_serves_with_granian_and_stops_cleanly_on_sigterm(project, workers, interface):
    port = free_port()
    shutdown_file = project / "shutdowns.txt"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "CLI_APP_SHUTDOWN_FILE": str(shutdown_file),
    }
    log_path = project / "run.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gobstopper",
                "run",
                "cli_app:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
                "--threads",
                "1",
                "--loop",
                "asyncio",
                "--interface",
                interface,
            ],
            cwd=project,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
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


def test_run_names_a_missing_loop_package(project, monkeypatch, capsys):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "uvloop" else real_find_spec(name, *a),
    )
    monkeypatch.chdir(project)
    assert main(["run", "cli_app:app", "--loop", "uvloop"]) == 2
    assert "uvloop" in capsys.readouterr().err


def test_run_reports_an_invalid_shutdown_timeout(project, monkeypatch, capsys):
    monkeypatch.setenv("WOPR_SHUTDOWN_TIMEOUT", "soon")
    monkeypatch.chdir(project)
    assert main(["run", "cli_app:app"]) == 2
    assert "WOPR_SHUTDOWN_TIMEOUT must be a number, got 'soon'" in capsys.readouterr().err


# -- --version and --help ---------------------------------------------------------------------
def test_version_prints_the_installed_version():
    result = run_cli(["--version"], ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"gobstopper {metadata.version('gobstopper')}\n"


def test_version_without_package_metadata(monkeypatch, capsys):
    def missing(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == "gobstopper unknown (not installed)\n"


def every_parser(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """``parser`` and, recursively, the parser of every sub-command."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield from every_parser(child)


def test_every_option_of_every_command_states_its_default():
    parsers = list(every_parser(build_parser()))
    assert {p.prog for p in parsers} >= {
        "gobstopper run",
        "gobstopper routes",
        "gobstopper tasks list",
        "gobstopper tasks cleanup",
    }
    for parser in parsers:
        for action in parser._actions:
            if action.option_strings and action.dest not in ("help", "version"):
                assert "default" in (action.help or ""), (parser.prog, action.option_strings)


def test_help_has_no_restructuredtext_markup():
    for parser in every_parser(build_parser()):
        text = parser.format_help()
        assert not re.search(r"``|:[a-z]+:`", text), (parser.prog, text)


def test_run_help_shows_the_defaults():
    text = run_cli(["run", "--help"], ROOT).stdout
    for expected in (
        "(default: 127.0.0.1)",
        "(default: 8000)",
        "(default: rsgi)",
        '"gobstopper[reload]"',
        "(default: off)",
    ):
        assert expected in text
    assert "(default: uvloop when installed" in " ".join(text.split())
    assert re.search(r"--workers WORKERS\s+worker processes.*\s+\(default: 1\)", text)
    assert re.search(r"--threads THREADS\s+.*\(default: 1\)", text)


# -- routes prints the table only ---------------------------------------------------------------
NOISY_APP = textwrap.dedent("""
    import logging
    import warnings
    from gobstopper import Gobstopper
    from gobstopper.middleware import SecurityMiddleware

    logging.getLogger("noisy").warning("configured at import")
    warnings.warn("a library warns at import", UserWarning)
    app = Gobstopper("noisy")
    app.add_middleware(SecurityMiddleware())   # no secret_key: warns
    app.get("/")(lambda request: "home")
""")


def test_routes_prints_only_the_table(project):
    (project / "noisy_app.py").write_text(NOISY_APP)
    result = run_cli(["routes", "noisy_app:app"], project)
    assert result.returncode == 0
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == "=== Routing Visualization ===" and lines[-1] == "=== End Visualization ==="


# -- tasks finds the app's database ---------------------------------------------------------------
TASKS_APP = textwrap.dedent("""
    import os
    from gobstopper import Gobstopper
    from gobstopper.tasks import TaskQueue, TaskStorage

    app = Gobstopper("tasks_app")
    # Enabled only where the app runs, as in production: the CLI must find the file anyway.
    app.task_queue = TaskQueue(storage_factory=lambda: TaskStorage("data/app_tasks.duckdb"))
    plain = Gobstopper("plain")
    other_storage = Gobstopper("other_storage")
    other_storage.task_queue = TaskQueue(storage_factory=lambda: object())
""")


@pytest.fixture
def tasks_project(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (project / "tasks_app.py").write_text(TASKS_APP)
    monkeypatch.chdir(project)
    monkeypatch.syspath_prepend(str(project))
    monkeypatch.delenv("WOPR_TASKS_ENABLED", raising=False)
    return project


def _store_task(path: Path, task_id: str) -> None:
    path.parent.mkdir(exist_ok=True)
    storage = TaskStorage(path)
    storage.save_task(
        TaskInfo(
            id=task_id,
            name="send",
            category="mail",
            priority=TaskPriority.NORMAL,
            status=TaskStatus.PENDING,
            created_at=datetime(2025, 1, 1),
        )
    )
    storage.close()


def test_tasks_reads_the_database_the_app_is_configured_with(tasks_project, capsys):
    _store_task(tasks_project / "data" / "app_tasks.duckdb", "t-app")
    _store_task(tasks_project / "wopr_tasks.duckdb", "t-default")
    assert main(["tasks", "list", "--app", "tasks_app:app"]) == 0
    out = capsys.readouterr().out
    assert "t-app" in out and "t-default" not in out
    assert main(["tasks", "show", "--app", "tasks_app:plain", "t-default"]) == 0
    assert '"id": "t-default"' in capsys.readouterr().out


def test_tasks_error_names_the_path_it_looked_at(tasks_project, capsys):
    assert main(["tasks", "stats", "--app", "tasks_app:app"]) == 1
    err = capsys.readouterr().err
    assert f"no task database at {tasks_project / 'data' / 'app_tasks.duckdb'}" in err
    assert "configured by tasks_app:app" in err
    assert main(["tasks", "stats"]) == 1
    err = capsys.readouterr().err
    assert f"no task database at {tasks_project / 'wopr_tasks.duckdb'}" in err
    assert "--db PATH, --redis URL or --app MODULE:APP" in err
    assert not (tasks_project / "wopr_tasks.duckdb").exists()


def test_tasks_refuses_a_storage_that_is_not_a_duckdb_file(tasks_project, capsys):
    assert main(["tasks", "list", "--app", "tasks_app:other_storage"]) == 2
    assert "neither a DuckDB file nor Redis" in capsys.readouterr().err


def test_tasks_app_and_db_are_exclusive(tasks_project, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["tasks", "list", "--app", "tasks_app:app", "--db", "x.duckdb"])
    assert exited.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


# -- run refuses a port in use --------------------------------------------------------------------
def test_run_refuses_a_port_another_server_listens_on(project):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        result = run_cli(["run", "cli_app:app", "--port", str(port)], project, timeout=20)
    assert result.returncode == 2
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "--port" in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.mark.e2e
def test_a_second_run_on_the_same_port_is_refused(project):
    """Granian listens with SO_REUSEPORT: without the check both servers would share the port."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    with open(project / "first.log", "wb") as log:
        first = subprocess.Popen(
            [sys.executable, "-m", "gobstopper", "run", "cli_app:app", "--port", str(port)],
            cwd=project,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_port(port, first, 30)
        second = run_cli(["run", "cli_app:app", "--port", str(port)], project, timeout=20)
        assert second.returncode == 2
        assert f"port {port} on 127.0.0.1 is already in use" in second.stderr
    finally:
        os.killpg(first.pid, signal.SIGTERM)
        first.wait(30)


def test_run_reports_an_address_it_cannot_use(project, monkeypatch, capsys):
    monkeypatch.chdir(project)
    assert (
        main(["run", "cli_app:app", "--host", "no-such-host.invalid", "--port", str(free_port())])
        == 2
    )
    assert "--host 'no-such-host.invalid'" in capsys.readouterr().err


# -- --reload ---------------------------------------------------------------------------------
def test_reload_without_watchfiles_names_the_extra(project, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "watchfiles", None)  # import watchfiles -> ImportError
    monkeypatch.chdir(project)
    assert main(["run", "cli_app:app", "--reload"]) == 2
    assert '--reload needs the watchfiles package: pip install "gobstopper[reload]"' in (
        capsys.readouterr().err
    )


def test_reload_extra_installs_watchfiles():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    watchfiles = [spec for spec in extras["reload"] if spec.startswith("watchfiles")]
    assert watchfiles and set(watchfiles) <= set(extras["all"])


@pytest.mark.e2e
def test_run_reload_serves_the_changed_code(tmp_path):
    project = tmp_path / "project"  # the watched folder: the log is kept outside it
    project.mkdir()
    source = project / "reload_app.py"
    source.write_text(
        'from gobstopper import Gobstopper\napp = Gobstopper("r")\n'
        'app.get("/")(lambda request: "first")\n'
    )
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    with open(tmp_path / "run.log", "wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gobstopper",
                "run",
                "reload_app:app",
                "--port",
                str(port),
                "--reload",
            ],
            cwd=project,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_port(port, process, 30)
        url = f"http://127.0.0.1:{port}/"
        assert httpx.get(url, timeout=10).text == "first"
        source.write_text(source.read_text().replace('"first"', '"changed after reload"'))
        deadline, seen = time.monotonic() + 30, ""
        while seen != "changed after reload" and time.monotonic() < deadline:
            try:
                seen = httpx.get(url, timeout=10).text
            except httpx.TransportError:
                pass  # between the old worker and the new one
            time.sleep(0.05)
        assert seen == "changed after reload", (tmp_path / "run.log").read_text()
        process.send_signal(signal.SIGTERM)  # the reloader stops its worker itself
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


@pytest.mark.parametrize("uvloop_installed", [True, False])
def test_run_defaults_to_uvloop_when_installed(project, monkeypatch, uvloop_installed):
    import importlib.util

    from granian import Granian
    from granian.constants import Loops

    real_find_spec = importlib.util.find_spec
    if not uvloop_installed:
        monkeypatch.setattr(
            importlib.util,
            "find_spec",
            lambda name, *a: None if name == "uvloop" else real_find_spec(name, *a),
        )
    served_on: list[Loops] = []
    monkeypatch.setattr(Granian, "serve", lambda self, *a, **k: served_on.append(self.loop))
    monkeypatch.chdir(project)
    assert main(["run", "cli_app:app", "--port", "0"]) == 0
    assert served_on == [Loops.uvloop if uvloop_installed else Loops.asyncio]
