"""Serving a lesson as `make gsN` does: a classroom (HOST=0.0.0.0), a busy port, without make.

Traffic goes to 127.0.0.1 only; a student's browser is imitated by the Host and Origin headers
it would send.
"""

import asyncio
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import websockets

from testkit.catalog import ROOT
from testkit.servers import free_port
from tools import lesson as tool

PY = Path(sys.executable)


def start(args, env=None, python=PY):
    """tools/lesson.py in its own process group, as make runs it; waits until it listens."""
    port = int(args[args.index("--port") + 1])
    process = subprocess.Popen(
        [str(python), "-m", "tools.lesson", *args], cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return process
        except OSError:
            time.sleep(0.1)
    stop(process)
    pytest.fail("the lesson did not listen within 60 s")


def stop(process):
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
    return process.stdout.read()


def get(port, host, path="/"):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path, headers={"Host": host})
    status = connection.getresponse().status
    connection.close()
    return status


async def handshake(port, host, origin):
    """A websocket handshake sent to 127.0.0.1 as a browser at http://host:port sends it."""
    try:
        async with websockets.connect(f"ws://{host}:{port}/ws/chat/lobby/", host="127.0.0.1",
                                      port=port, origin=origin, open_timeout=10) as ws:
            return "channel_name" in await asyncio.wait_for(ws.recv(), 10)
    except websockets.InvalidStatus as refused:
        return refused.response.status_code


def is_own_address(text):
    """True if this machine has the address: only its own addresses can be bound."""
    address = text.strip("[]")
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        with socket.socket(family) as s:
            s.bind((address, 0))
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def classroom():
    port = free_port()
    # Unset (empty) DJANGO_ALLOWED_HOSTS: the tool chooses them.
    process = start(["gs4", "--host", "0.0.0.0", "--port", str(port)],
                    env={"DJANGO_ALLOWED_HOSTS": ""})
    yield port, process
    stop(process)


def student_hosts(output, port):
    return re.findall(rf"^    http://(\S+):{port}/$", output, re.MULTILINE)


async def test_a_classroom_serves_students_at_the_machines_own_addresses(classroom):
    port, process = classroom
    # Everything printed up to the URLs is there once the server listens.
    lines = []
    while not lines or "what to try" not in lines[-1]:
        lines.append(process.stdout.readline())
    output = "".join(lines)
    hosts = student_hosts(output, port)
    addresses = [h for h in hosts if re.fullmatch(r"[\d.]+|\[[0-9a-f:]+\]", h)]
    assert addresses, output
    assert all(is_own_address(a) for a in addresses), output
    assert f"open http://127.0.0.1:{port}/" in output
    student = addresses[0]
    origin = f"http://{student}:{port}"
    assert get(port, f"{student}:{port}") == 200
    assert await handshake(port, student, origin) is True
    # The teacher's own browser still works.
    assert await handshake(port, "127.0.0.1", f"http://127.0.0.1:{port}") is True


async def test_a_classroom_refuses_other_hosts_and_origins(classroom):
    port, _ = classroom
    # 192.0.2.0/24 (TEST-NET-1) is not this machine's unless it is; pick one that is not.
    stranger = next(f"192.0.2.{i}" for i in range(200, 255) if not is_own_address(f"192.0.2.{i}"))
    assert get(port, f"{stranger}:{port}") == 400
    assert get(port, f"evil.example:{port}") == 400
    student = tool.classroom_hosts("0.0.0.0")[0]
    assert await handshake(port, student, f"http://{stranger}:{port}") == 403
    assert await handshake(port, student, f"http://evil.example:{port}") == 403


def test_allowed_hosts_are_the_development_ones_plus_the_students(monkeypatch):
    monkeypatch.setattr(tool, "machine_addresses", lambda ipv6=False: ["10.1.2.3", "fd00::5"]
                        [:2 if ipv6 else 1])
    monkeypatch.setattr(tool, "machine_hostname", lambda: "teacher")
    assert tool.classroom_hosts("0.0.0.0") == ["10.1.2.3", "teacher"]
    assert tool.classroom_hosts("::") == ["10.1.2.3", "[fd00::5]", "teacher"]
    assert tool.classroom_hosts("10.1.2.3") == ["10.1.2.3"]


def test_a_busy_port_stops_make_at_once_and_names_another():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            ["make", "--no-print-directory", "gs1", f"PORT={port}", f"PY={PY}", "STAMP="],
            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert f"Port {port} is already taken" in done.stderr
    assert re.search(r"PORT=\d+ make gs1", done.stderr)
    assert "python -m tools.lesson gs1 --port" in done.stderr
    # Nothing ran: no migration, no server.
    assert "Starting" not in done.stdout + done.stderr


def test_a_busy_port_on_every_interface_counts_too():
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert tool.port_taken("127.0.0.1", port)
        assert tool.port_taken("0.0.0.0", port)
    assert not tool.port_taken("127.0.0.1", port)


def test_make_docs_takes_docs_port():
    done = subprocess.run(["make", "-n", "docs", "DOCS_PORT=8123"], cwd=ROOT,
                          capture_output=True, text=True, timeout=30)
    assert "mkdocs serve -a 127.0.0.1:8123" in done.stdout


def test_make_help_lists_every_variable():
    done = subprocess.run(["make", "--no-print-directory", "help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=30)
    for name in ("PORT", "HOST", "WORKERS", "JOBS", "DOCS_PORT", "REDIS_URL", "DATABASE_URL",
                 "DJANGO_SECRET_KEY", "DJANGO_DEBUG", "DJANGO_ALLOWED_HOSTS"):
        assert re.search(rf"^  {name}\s+\S", done.stdout, re.MULTILINE), name
    for target in ("gsN", "gsN-workers", "exercise gsN", "check gsN", "solution gsN", "test",
                   "docs"):
        assert f"make {target} " in done.stdout, target


@pytest.mark.parametrize(("platform", "expected"), [
    ("win32", Path("v") / "Scripts" / "python.exe"),
    ("linux", Path("v") / "bin" / "python"),
    ("darwin", Path("v") / "bin" / "python"),
])
def test_the_venvs_python_is_where_each_os_puts_it(monkeypatch, platform, expected):
    monkeypatch.setattr(sys, "platform", platform)
    assert tool.venv_python(Path("v")) == expected


def test_a_missing_venv_is_created_and_filled_from_requirements(tmp_path, monkeypatch):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("Django==5.2.19\n")
    venv = tmp_path / "venv"
    commands = []

    def run(command):
        commands.append(command)
        venv.mkdir(exist_ok=True)

    monkeypatch.setattr(sys, "platform", "win32")
    python = tool.ensure_venv(venv, requirements, run=run)
    assert python == venv / "Scripts" / "python.exe"
    assert commands == [
        [sys.executable, "-m", "venv", str(venv)],
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "-r", str(requirements)],
    ]
    # Installed once: the next run installs nothing, until requirements.txt changes.
    python.parent.mkdir(parents=True)
    python.write_text("")
    commands.clear()
    tool.ensure_venv(venv, requirements, run=run)
    assert commands == []
    requirements.write_text("Django==5.2.20\n")
    tool.ensure_venv(venv, requirements, run=run)
    assert [c[1:4] for c in commands] == [["-m", "pip", "install"]]


def test_without_make_any_python_serves_a_lesson_through_the_venv(tmp_path):
    """`python -m tools.lesson gs1` run by a Python that is not the venv's (and lacks Django):
    it finds the venv (here a small one that borrows the shared venv's packages, so that no
    download happens), runs itself there, and serves."""
    outside = next((p for p in ("/usr/bin/python3", sys._base_executable) if Path(p).exists()
                    and subprocess.run([p, "-c", "import venv"]).returncode == 0), None)
    venv = tmp_path / "venv"
    subprocess.run([outside, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    python = tool.venv_python(venv)
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path("
                           "'purelib'))"], capture_output=True, text=True).stdout.strip()
    shared = subprocess.run([str(PY), "-c", "import sysconfig; print(sysconfig.get_path("
                             "'purelib'))"], capture_output=True, text=True).stdout.strip()
    Path(site, "shared.pth").write_text(shared + "\n")
    (venv / "requirements.installed").write_bytes((ROOT / "requirements.txt").read_bytes())
    port = free_port()
    process = start(["gs1", "--port", str(port)], python=outside,
                    env={"LESSONS_VENV": str(venv), "PYTHONPATH": ""})
    try:
        assert get(port, f"127.0.0.1:{port}") == 200
        # The server runs on the venv's interpreter, not on the one that was started.
        pids = subprocess.run(["pgrep", "-g", str(process.pid)], capture_output=True,
                              text=True).stdout.split()
        exes = {os.path.realpath(f"/proc/{pid}/exe") for pid in pids}
        assert os.path.realpath(python) in exes or any(
            Path(f"/proc/{pid}/cmdline").read_bytes().startswith(str(python).encode())
            for pid in pids)
    finally:
        output = stop(process)
    assert "gs1_basic: open http://127.0.0.1:" in output
