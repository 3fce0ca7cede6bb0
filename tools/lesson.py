"""`make gsN` and `make gsN-workers`: migrate a lesson, print its URLs, and serve it."""

import argparse
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from testkit.catalog import asgi_module, lesson_dir, settings_module  # noqa: E402
from testkit.servers import uvicorn_command  # noqa: E402

WORKERS_NEED_REDIS = """\
make gs{n}-workers needs REDIS_URL, for example:
    REDIS_URL=redis://127.0.0.1:6379/0 make gs{n}-workers
Each of the {workers} worker processes has its own memory. With the in-memory channel layer a
socket on one worker never hears a message sent on another, so a room would silently split.
A Redis channel layer is shared by all of them."""


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
        yield "/" + prefix.lstrip("^").rstrip("$").lstrip("/")


def print_urls(path, port):
    sys.path.insert(0, str(path))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings_module(path))
    application = __import__(asgi_module(path), fromlist=["application"]).application
    print(f"\n{path.name}: open http://127.0.0.1:{port}/ in a browser")
    for ws_path in websocket_paths(application):
        print(f"  websocket  ws://127.0.0.1:{port}{ws_path}")
    print(f"  what to try: {path.name}/README.md\n", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("how", choices=["serve", "workers"])
    parser.add_argument("number")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    path = lesson_dir(args.number)
    if args.how == "workers" and not os.environ.get("REDIS_URL"):
        sys.exit(WORKERS_NEED_REDIS.format(n=args.number, workers=args.workers))
    os.chdir(path)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], check=True)
    print_urls(path, args.port)
    if args.how == "serve":
        command = ["manage.py", "runserver", f"127.0.0.1:{args.port}"]
    else:
        command = uvicorn_command(path, args.port, args.workers)[1:]
        print(f"uvicorn with {args.workers} worker processes, channel layer at REDIS_URL")
    os.execv(sys.executable, [sys.executable, *command])


if __name__ == "__main__":
    main()
