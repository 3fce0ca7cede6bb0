"""The servers the benchmark drives: the lessons' own (testkit's LessonServer) and the bare echo.

LessonServer already starts a lesson the way `make gsN` (Daphne's runserver) and
`make gsN-workers` (uvicorn --workers N) do. What it lacks is a way to serve an ASGI app that is
not a lesson, so BareServer serves bench/bare_echo.py with the same two servers.
"""

import sys
from pathlib import Path

from testkit import services
from testkit.catalog import lesson_dirs, settings_module
from testkit.servers import LessonServer

BENCH = Path(__file__).resolve().parent

def find_lesson(name):
    """The folder of lesson `name` ("gs4"), or None while no such lesson exists."""
    for path in lesson_dirs():
        if path.name.startswith(f"{name}_"):
            return path
    return None


def redis():
    """Redis's URL, or None (with the reason in .how) when this machine has none."""
    return services.find("redis")


def bench_settings_env(path, **switches):
    """Serve lesson `path` with bench/bench_settings.py: its own settings, with `switches`."""
    return {"DJANGO_SETTINGS_MODULE": "bench_settings",
            "BENCH_BASE_SETTINGS": settings_module(path),
            "PYTHONPATH": str(BENCH), **switches}


def layer_env(path, layer, redis_url=None, **switches):
    """Environment for a gs4 fan-out server: its channel layer ("memory", "redis" or "pubsub"),
    its flood limit lifted (one script sends every burst), and any other bench_settings switch.
    """
    env = bench_settings_env(path, BENCH_NO_FLOOD_LIMIT="1", **switches)
    if layer == "memory":
        return env
    # gs4 reads REDIS_URL and CHANNEL_LAYER_PREFIX; a prefix of our own keeps the benchmark's
    # keys apart from anything else using this Redis server.
    env.update(REDIS_URL=redis_url, CHANNEL_LAYER_PREFIX="bench")
    if layer == "pubsub":
        # gs4 has no switch for RedisPubSubChannelLayer: bench's settings module adds one.
        env["BENCH_LAYER"] = "pubsub"
    return env


def lesson_server(path, server="daphne", workers=1, env=None):
    """A lesson's real server: Daphne's runserver (`make gsN`) or uvicorn with N workers."""
    if server == "daphne":
        return LessonServer(path, env=env)
    return LessonServer(path, env=env, workers=workers)


class BareServer(LessonServer):
    """bench/bare_echo.py served by Daphne (its command line) or uvicorn (one process)."""

    def __init__(self, server="daphne"):
        super().__init__(BENCH)
        self.server = server
        self.path = BENCH

    def command(self):
        if self.server == "daphne":
            return [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port),
                    "bare_echo:application"]
        return [sys.executable, "-m", "uvicorn", "bare_echo:application", "--host", "127.0.0.1",
                "--port", str(self.port), "--log-level", "warning"]

    def start(self, migrate=False, timeout=30):
        # Not a Django project: nothing to migrate.
        return super().start(migrate=False, timeout=timeout)
