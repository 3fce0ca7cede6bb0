"""Serve a lesson, or practise on it, with or without make; any OS, only Python needed.

    python -m tools.lesson gs4                  serve lesson 4 with Daphne (make gs4)
    python -m tools.lesson gs4-workers          uvicorn with --workers (make gs4-workers)
    python -m tools.lesson exercise gs4         write exercises/gs4_*/ (make exercise gs4)
    python -m tools.lesson check gs4            check it (make check gs4)
    python -m tools.lesson solution gs4         diff it against the lesson (make solution gs4)

Options (or the environment variables of the same name): --port (PORT, 8000), --host (HOST,
127.0.0.1; 0.0.0.0 for a classroom), --workers (WORKERS, 4). Run by any Python 3.10+, it first
creates .venv and installs requirements.txt if needed, then runs itself with .venv's Python.
"""

import argparse
import ipaddress
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from testkit.catalog import asgi_module, lesson_dir, settings_module  # noqa: E402
from testkit.servers import uvicorn_command  # noqa: E402

REQUIREMENTS = ROOT / "requirements.txt"
# Django 5.2 needs 3.10.
MIN_PYTHON = (3, 10)
DEVELOPMENT_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

WORKERS_NEED_REDIS = """\
make gs{n}-workers needs REDIS_URL, for example:
    REDIS_URL=redis://127.0.0.1:6379/0 make gs{n}-workers
Each of the {workers} worker processes has its own memory. With the in-memory channel layer a
socket on one worker never hears a message sent on another, so a room would silently split.
A Redis channel layer is shared by all of them."""

PORT_TAKEN = """\
Port {port} is already taken on {host}: another server is listening there (another lesson
still running?). Stop it, or pick another port:
    PORT={free} make {target}
    python -m tools.lesson {target} --port {free}      (without make)"""


# ----- the virtual environment -----

def venv_dir():
    return Path(os.environ.get("LESSONS_VENV") or ROOT / ".venv")


def venv_python(venv, platform=None):
    """The interpreter of a venv: Scripts\\python.exe on Windows, bin/python elsewhere."""
    if (platform or sys.platform) == "win32":
        return Path(venv) / "Scripts" / "python.exe"
    return Path(venv) / "bin" / "python"


def inside(venv):
    return Path(sys.prefix).resolve() == Path(venv).resolve()


def ensure_venv(venv, requirements=REQUIREMENTS, run=subprocess.check_call):
    """venv's Python, after creating the venv and installing requirements.txt if needed.
    The copy of requirements.txt kept in the venv (as the Makefile keeps it) says whether the
    installed set is the pinned one."""
    python = venv_python(venv)
    stamp = Path(venv) / "requirements.installed"
    if not python.exists():
        print(f"Creating {venv} (once) ...", flush=True)
        run([sys.executable, "-m", "venv", str(venv)])
    if not stamp.is_file() or stamp.read_bytes() != Path(requirements).read_bytes():
        print(f"Installing {Path(requirements).name} into {venv} (a few minutes, once) ...",
              flush=True)
        run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "-r", str(requirements)])
        shutil.copyfile(requirements, stamp)
    return python


def rerun_in(python, argv):
    """Run this same command with the venv's Python, and exit with its status."""
    command = [str(python), "-m", "tools.lesson", *argv]
    if os.name == "nt":
        # Windows has no real exec: os.execv would return to the shell at once.
        sys.exit(subprocess.call(command, cwd=ROOT))
    os.chdir(ROOT)
    os.execv(str(python), command)


# ----- addresses and ports -----

def is_unspecified(host):
    return host in ("0.0.0.0", "::", "[::]", "")


def is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bracketed(address):
    return f"[{address}]" if ":" in address else address


def machine_addresses(ipv6=False):
    """This machine's own addresses that others on the network can reach, found without sending
    anything: the addresses its hostname resolves to, and on Linux `hostname -I`."""
    found = []
    try:
        found += [info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None)]
    except OSError:
        pass
    if sys.platform.startswith("linux") and shutil.which("hostname"):
        try:
            found += subprocess.run(["hostname", "-I"], capture_output=True, text=True,
                                    timeout=5).stdout.split()
        except (OSError, subprocess.SubprocessError):
            pass
    addresses = []
    for text in found:
        try:
            address = ipaddress.ip_address(text.split("%")[0])
        except ValueError:
            continue
        if (address.is_loopback or address.is_link_local or address.is_unspecified
                or address.is_multicast or (address.version == 6 and not ipv6)):
            continue
        if str(address) not in addresses:
            addresses.append(str(address))
    return sorted(addresses, key=lambda a: ":" in a)


def machine_hostname():
    """The machine's name, if Django would accept it as a host (letters, digits, dots, dashes)."""
    name = socket.gethostname().lower()
    return name if re.fullmatch(r"[a-z0-9.-]+", name) and name != "localhost" else None


def classroom_hosts(host):
    """The hosts students use for a server bound to `host`: its own addresses (IPv4 for
    0.0.0.0; IPv6 too for ::), and the machine's name."""
    if not is_unspecified(host):
        return [bracketed(host.strip("[]"))]
    hosts = [bracketed(a) for a in machine_addresses(ipv6=host.strip("[]") == "::")]
    name = machine_hostname()
    return hosts + ([name] if name else [])


def port_taken(host, port):
    """True if a server already listens on `port` (checked before migrating or serving)."""
    address = host.strip("[]") or "0.0.0.0"
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        if os.name != "nt":
            # As the servers do: a connection of a stopped server in TIME_WAIT does not count.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((address, port))
        except OSError:
            return True
    # Some systems let a bind to one address share a port that another server holds on every
    # address; a connection to it tells.
    target = "::1" if family == socket.AF_INET6 and is_unspecified(host) else (
        "127.0.0.1" if is_unspecified(host) else address)
    try:
        socket.create_connection((target, port), timeout=1).close()
        return True
    except OSError:
        return False


def next_free_port(host, port):
    for candidate in range(port + 1, port + 50):
        if candidate < 65536 and not port_taken(host, candidate):
            return candidate
    return port + 1


# ----- serving -----

def websocket_paths(app, prefix=""):
    """Walk ProtocolTypeRouter -> middleware -> URLRouter down to every consumer's path."""
    if app is None:
        return
    if hasattr(app, "application_mapping"):
        yield from websocket_paths(app.application_mapping.get("websocket"), prefix)
    elif hasattr(app, "routes"):
        for route in app.routes:
            yield from websocket_paths(route.callback, prefix + str(route.pattern))
    elif hasattr(app, "inner") or hasattr(app, "application"):
        yield from websocket_paths(getattr(app, "inner", None) or app.application, prefix)
    else:
        # A re_path's named group reads as a placeholder: (?P<room_name>...) -> <room_name>.
        readable = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"<\1>", prefix.replace("^", "").replace("$", ""))
        yield "/" + readable.lstrip("/")


def print_urls(path, port, hosts):
    sys.path.insert(0, str(path))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings_module(path))
    application = __import__(asgi_module(path), fromlist=["application"]).application
    first = hosts[0]
    print(f"\n{path.name}: open http://{first}:{port}/ in a browser")
    for ws_path in websocket_paths(application):
        print(f"  websocket  ws://{first}:{port}{ws_path}")
    if len(hosts) > 1:
        print("  students open (any one of):")
        for host in hosts[1:]:
            print(f"    http://{host}:{port}/")
    print(f"  what to try: {path.name}/README.md\n", flush=True)


def serve(number, host, port, workers=None):
    path = lesson_dir(number)
    n = path.name.split("_")[0]
    target = f"{n}-workers" if workers else n
    if workers and not os.environ.get("REDIS_URL"):
        sys.exit(WORKERS_NEED_REDIS.format(n=n.removeprefix("gs"), workers=workers))
    if port_taken(host, port):
        sys.exit(PORT_TAKEN.format(port=port, host=host, target=target,
                                   free=next_free_port(host, port)))
    hosts = ["127.0.0.1"] if is_loopback(host) or is_unspecified(host) else [bracketed(host)]
    if not is_loopback(host):
        students = [h for h in classroom_hosts(host) if h not in hosts]
        hosts += students
        if os.environ.get("DJANGO_ALLOWED_HOSTS"):
            print(f"DJANGO_ALLOWED_HOSTS is set, so it stays: {os.environ['DJANGO_ALLOWED_HOSTS']}")
        else:
            # Exactly the names students can use: Django answers 400 to any other Host, and from
            # gs4 on the websocket's origin check refuses any other Origin.
            allowed = list(dict.fromkeys(DEVELOPMENT_HOSTS + students))
            os.environ["DJANGO_ALLOWED_HOSTS"] = ",".join(allowed)
            print(f"Classroom: serving on every interface; DJANGO_ALLOWED_HOSTS="
                  f"{os.environ['DJANGO_ALLOWED_HOSTS']}")
        if not students:
            print("This machine has no network address besides loopback: students cannot reach it.")
        # A QR code would need a library that is not in requirements.txt; the URLs will do.
    os.chdir(path)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], check=True)
    print_urls(path, port, hosts)
    bind = bracketed(host.strip("[]")) if host else "0.0.0.0"
    if workers:
        command = uvicorn_command(path, port, workers)[1:]
        command[command.index("--host") + 1] = host.strip("[]")
        print(f"uvicorn with {workers} worker processes, channel layer at REDIS_URL")
    else:
        command = ["manage.py", "runserver", f"{bind}:{port}"]
    if os.name == "nt":
        sys.exit(subprocess.call([sys.executable, *command]))
    os.execv(sys.executable, [sys.executable, *command])


def parse(argv):
    parser = argparse.ArgumentParser(
        prog="python -m tools.lesson", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    parser.add_argument("command", help="gsN, gsN-workers, exercise, check or solution "
                        "(serve and workers take a lesson number, as the Makefile once did)")
    parser.add_argument("lesson", nargs="?", help="the lesson, for exercise, check, solution")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8000))
    parser.add_argument("--host", default=os.environ.get("HOST") or "127.0.0.1")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WORKERS") or 4))
    parser.add_argument("--into", help="where exercises live (default: exercises/)")
    return parser.parse_args(argv)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if sys.version_info < MIN_PYTHON:
        sys.exit(f"Python {'.'.join(map(str, MIN_PYTHON))} or newer is needed (Django 5.2); "
                 f"this is {sys.version.split()[0]}")
    args = parse(argv)
    venv = venv_dir()
    if not inside(venv):
        rerun_in(ensure_venv(venv), argv)
    command = args.command
    if command in ("exercise", "check", "solution"):
        if not args.lesson:
            sys.exit(f"Which lesson? For example: make {command} gs4")
        from tools import exercises
        action = {"exercise": exercises.make_exercise, "check": exercises.check,
                  "solution": exercises.solution}[command]
        result = action(args.lesson, into=args.into)
        sys.exit(result if isinstance(result, int) else 0)
    if command in ("serve", "workers"):  # the older form: serve 4, workers 4
        if not args.lesson:
            sys.exit(f"Which lesson? For example: python -m tools.lesson {command} 4")
        number, workers = args.lesson, command == "workers"
    else:
        match = re.fullmatch(r"(gs\d+)(-workers)?", command)
        if not match:
            sys.exit(f"Unknown command {command!r}: try gs1, gs4-workers, exercise gs4, "
                     "check gs4 or solution gs4")
        number, workers = match.group(1), bool(match.group(2))
    serve(number, args.host, args.port, args.workers if workers else None)


if __name__ == "__main__":
    main()
