"""Each entry of docs/troubleshooting.md, reproduced: the mistake is made on purpose in a COPY of
a lesson or in a tiny project of our own (both made in tmp_path), the symptom a learner sees is
checked, and so is the fix.

The lessons themselves are never modified. A copy runs in its own process (a real server, a
manage.py command, pytest, or a short script that calls django.setup()), because this suite has
no Django settings of its own.
"""

import asyncio
import json
import textwrap
import uuid

import pytest
import websockets
from support import copy_lesson, edit, run

SETTINGS_ENV = {"DJANGO_SETTINGS_MODULE": "gs1.settings"}


@pytest.fixture
def gs1(tmp_path):
    return copy_lesson(1, tmp_path)


def add_consumer(folder, code, route, name):
    """Append a consumer class to the copy's app/consumers.py and route ws/<route>/ to it."""
    consumers = folder / "app" / "consumers.py"
    consumers.write_text(consumers.read_text() + "\n\n" + textwrap.dedent(code).strip() + "\n")
    edit(folder / "app" / "routing.py", "]\n",
         f'    path("ws/{route}/", consumers.{name}.as_asgi()),\n]\n')


def add_settings(folder, text):
    settings = folder / "gs1" / "settings.py"
    settings.write_text(settings.read_text() + "\n" + textwrap.dedent(text).strip() + "\n")


def probe(folder, body, setup="", package="gs1"):
    """Run `body` (async code using `application` and WebsocketCommunicator) as a standalone
    script in the copy, after `setup` (sync code), and return what it printed: one JSON value
    per line."""
    script = textwrap.dedent("""\
        import asyncio, json, sys
        import django
        django.setup()  # a standalone script must load settings and apps itself
        from channels.testing import WebsocketCommunicator
        from {package}.asgi import application
        {setup}

        def report(value):
            print(json.dumps(value), flush=True)

        async def main():
        {body}
        asyncio.run(main())
        """).format(body=textwrap.indent(textwrap.dedent(body).strip(), "    "), setup=setup,
                    package=package)
    (folder / "probe.py").write_text(script)
    result = run(folder, "probe.py", env={"DJANGO_SETTINGS_MODULE": f"{package}.settings"})
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


async def logged(server, text, timeout=5):
    """Whether the server's log shows `text`, waiting a little: it may be written just after
    the client got its answer."""
    try:
        async with asyncio.timeout(timeout):
            while text not in server.output():
                await asyncio.sleep(0.05)
    except TimeoutError:
        return False
    return True


async def handshake_status(url, **kwargs):
    """101 if the websocket opened, else the HTTP status that refused it."""
    try:
        async with asyncio.timeout(5):
            async with websockets.connect(url, **kwargs):
                return 101
    except websockets.InvalidStatus as refused:
        return refused.response.status_code


# --- No "Starting ASGI/Daphne" banner -------------------------------------------------------

REMOVE_DAPHNE = ('    "daphne",\n    "django.contrib.admin",', '    "django.contrib.admin",')


async def test_daphne_missing_gives_djangos_runserver_and_404s(gs1, start_server):
    edit(gs1 / "gs1" / "settings.py", *REMOVE_DAPHNE)
    server = start_server(path=gs1, migrate=False)
    output = server.output()
    assert "Starting development server at" in output
    assert "ASGI/Daphne" not in output
    assert await handshake_status(server.ws("/ws/sc/")) == 404


def test_daphne_below_staticfiles_fails_the_system_check(gs1):
    settings = gs1 / "gs1" / "settings.py"
    edit(settings, *REMOVE_DAPHNE)
    edit(settings, '"django.contrib.staticfiles",\n',
         '"django.contrib.staticfiles",\n    "daphne",\n')
    result = run(gs1, "manage.py", "check")
    assert result.returncode != 0
    assert ("(daphne.E001) Daphne must be listed before django.contrib.staticfiles in "
            "INSTALLED_APPS.") in result.stderr


RUNSERVER_OVERRIDE = """
    # Like whitenoise's runserver_nostatic: an app that ships its own runserver command.
    from django.contrib.staticfiles.management.commands.runserver import Command  # noqa: F401
"""


async def test_another_runserver_above_daphne_hides_it(gs1, start_server):
    commands = gs1 / "devtools" / "management" / "commands"
    commands.mkdir(parents=True)
    for package in (gs1 / "devtools", commands.parent, commands):
        (package / "__init__.py").write_text("")
    (commands / "runserver.py").write_text(textwrap.dedent(RUNSERVER_OVERRIDE).lstrip())
    edit(gs1 / "gs1" / "settings.py", '    "daphne",\n', '    "devtools",\n    "daphne",\n')
    server = start_server(path=gs1, migrate=False)
    assert "ASGI/Daphne" not in server.output()
    assert await handshake_status(server.ws("/ws/sc/")) == 404


async def test_daphne_first_gives_the_asgi_banner_and_websockets(gs1, start_server):
    server = start_server(path=gs1, migrate=False)
    assert "Starting ASGI/Daphne version" in server.output()
    assert await handshake_status(server.ws("/ws/sc/")) == 101


# --- AppRegistryNotReady ----------------------------------------------------------------------

def import_model_in_consumers(folder):
    # From gs5 on, consumers import models; this is what makes the import order matter.
    edit(folder / "app" / "consumers.py", "from channels.consumer import",
         "from django.contrib.auth.models import User  # noqa: F401\n"
         "from channels.consumer import")


def test_routing_imported_before_get_asgi_application_raises_app_registry_not_ready(gs1):
    import_model_in_consumers(gs1)
    asgi = gs1 / "gs1" / "asgi.py"
    edit(asgi, "from app.routing import websocket_urlpatterns  # noqa: E402\n", "")
    edit(asgi, "import os\n", "import os\n\nfrom app.routing import websocket_urlpatterns\n")
    result = run(gs1, "-c", "import gs1.asgi", env=SETTINGS_ENV)
    assert result.returncode != 0
    assert "django.core.exceptions.AppRegistryNotReady: Apps aren't loaded yet." in result.stderr


def test_routing_imported_after_get_asgi_application_loads(gs1):
    import_model_in_consumers(gs1)
    result = run(gs1, "-c", "import gs1.asgi; print('loaded')", env=SETTINGS_ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "loaded"


# --- No route found for path --------------------------------------------------------------------

async def test_a_leading_slash_in_routing_gives_no_route_found(gs1, start_server):
    edit(gs1 / "app" / "routing.py", 'path("ws/sc/"', 'path("/ws/sc/"')
    server = start_server(path=gs1, migrate=False)
    # Refused at the handshake; the reason is only in the server's log.
    assert await handshake_status(server.ws("/ws/sc/")) >= 400
    assert await logged(server, "ValueError: No route found for path 'ws/sc/'.")
    # The route without the slash still works.
    assert await handshake_status(server.ws("/ws/ac/")) == 101


# --- SynchronousOnlyOperation ----------------------------------------------------------------

ORM_CONSUMERS = """
    from channels.db import database_sync_to_async
    from django.contrib.auth.models import User


    class CountInTheLoop(AsyncConsumer):
        async def websocket_connect(self, event):
            await self.send({"type": "websocket.accept"})

        async def websocket_receive(self, event):
            count = User.objects.count()  # the mistake: a blocking ORM call in async code
            await self.send({"type": "websocket.send", "text": str(count)})


    class CountInAThread(CountInTheLoop):
        async def websocket_receive(self, event):
            count = await database_sync_to_async(User.objects.count)()
            await self.send({"type": "websocket.send", "text": str(count)})

        async def websocket_disconnect(self, event):
            raise StopConsumer()
"""


def test_orm_in_an_async_consumer_raises_synchronous_only_operation(gs1):
    add_consumer(gs1, ORM_CONSUMERS, "loop", "CountInTheLoop")
    edit(gs1 / "app" / "routing.py", "]\n",
         '    path("ws/thread/", consumers.CountInAThread.as_asgi()),\n]\n')
    migrate = ("from django.core.management import call_command\n"
               "call_command('migrate', verbosity=0)")
    results = probe(gs1, setup=migrate, body="""
        for path in ("/ws/loop/", "/ws/thread/"):
            communicator = WebsocketCommunicator(application, path)
            await communicator.connect()
            await communicator.send_to(text_data="count")
            try:
                report([path, await communicator.receive_from()])
                await communicator.disconnect()
            except Exception as error:
                report([path, type(error).__name__, str(error)])
    """)
    assert results[0] == ["/ws/loop/", "SynchronousOnlyOperation",
                          "You cannot call this from an async context - use a thread or "
                          "sync_to_async."]
    assert results[1] == ["/ws/thread/", "0"]


# --- Database tests without transaction=True --------------------------------------------------

COUNTING_CONSUMERS = """
    from channels.db import database_sync_to_async
    from channels.generic.websocket import AsyncWebsocketConsumer
    from django.contrib.auth.models import User

    ROUTED = []


    class CountUsers(AsyncWebsocketConsumer):
        async def receive(self, text_data=None, bytes_data=None):
            count = await database_sync_to_async(User.objects.count)()
            await self.send(text_data=str(count))
"""

DB_TESTS = """
    import pytest
    from asgiref.sync import sync_to_async
    from channels.testing import WebsocketCommunicator
    from django.contrib.auth.models import User
    from django.test import TestCase

    from mini.consumers import CountUsers


    async def count_users():
        communicator = WebsocketCommunicator(CountUsers.as_asgi(), "/")
        await communicator.connect()
        await communicator.send_to(text_data="count")
        try:
            return await communicator.receive_from(timeout=2)
        finally:
            await communicator.disconnect()


    @pytest.fixture
    def ann():
        return User.objects.create(username="ann")


    @pytest.mark.django_db
    async def test_without_transaction(ann):
        assert await count_users() == "1"


    @pytest.mark.django_db(transaction=True)
    async def test_with_transaction(ann):
        assert await count_users() == "1"


    class UsersTestCase(TestCase):
        async def test_in_a_django_testcase(self):
            await sync_to_async(User.objects.create)(username="bob")
            assert await count_users() == "1"
"""

DB_PYTEST_INI = """
    [pytest]
    DJANGO_SETTINGS_MODULE = mini.settings
    asyncio_mode = auto
    asyncio_default_fixture_loop_scope = function
"""


def test_database_test_without_transaction_true_fails_on_a_locked_table(tmp_path):
    folder = mini_project(tmp_path, consumers=COUNTING_CONSUMERS)
    (folder / "pytest.ini").write_text(textwrap.dedent(DB_PYTEST_INI).lstrip())
    (folder / "test_users.py").write_text(textwrap.dedent(DB_TESTS).lstrip())
    result = run(folder, "-m", "pytest", "-p", "no:cacheprovider", "-rA", "test_users.py")
    # pytest-asyncio: the consumer's thread has its own connection, outside the test's transaction.
    assert "FAILED test_users.py::test_without_transaction" in result.stdout
    assert "database table is locked" in result.stdout
    assert "PASSED test_users.py::test_with_transaction" in result.stdout
    # Django's TestCase runs the test through async_to_sync: one thread, one connection.
    assert "PASSED test_users.py::UsersTestCase::test_in_a_django_testcase" in result.stdout


# --- Warnings after a test that never disconnected ------------------------------------------

SLOW_CONSUMER = """
    import time


    class Countdown(SyncConsumer):
        def websocket_connect(self, event):
            self.send({"type": "websocket.accept"})

        def websocket_receive(self, event):
            for n in range(COUNT):
                time.sleep(0.2)
                self.send({"type": "websocket.send", "text": str(n)})

        def websocket_disconnect(self, event):
            raise StopConsumer()
"""

FORGETFUL_TEST = """
    from channels.testing import WebsocketCommunicator

    from gs1.asgi import application


    async def test_first_frame():
        communicator = WebsocketCommunicator(application, "/ws/countdown/")
        await communicator.connect()
        await communicator.send_to(text_data="go")
        assert await communicator.receive_from() == "0"
"""


@pytest.mark.parametrize("disconnects", [False, True], ids=["forgotten", "disconnected"])
def test_a_test_that_never_disconnects_leaves_a_running_consumer_behind(gs1, disconnects):
    # Forgotten: the consumer still has seconds of work when the test's loop closes, however
    # slow the machine; disconnected: it finishes within disconnect()'s one-second wait.
    countdown = SLOW_CONSUMER.replace("COUNT", "3" if disconnects else "10")
    add_consumer(gs1, countdown, "countdown", "Countdown")
    test = textwrap.dedent(FORGETFUL_TEST).lstrip()
    if disconnects:
        test += "    await communicator.disconnect()\n"
    (gs1 / "tests" / "test_countdown.py").write_text(test)
    result = run(gs1, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_countdown.py")
    assert "1 passed" in result.stdout
    leftovers = "was never awaited" in result.stderr
    assert leftovers is not disconnects, result.stderr


# --- Redis older than 5.0: no BZPOPMIN ----------------------------------------------------------

class RedisFour:
    """A stand-in that answers like Redis 4 would: it has EVAL and ZADD, but no BZPOPMIN."""

    REPLIES = {b"EVAL": b"$-1\r\n", b"ZCOUNT": b":0\r\n", b"ZADD": b":1\r\n",
               b"ZREMRANGEBYSCORE": b":0\r\n", b"EXPIRE": b":1\r\n", b"PING": b"+PONG\r\n",
               b"SELECT": b"+OK\r\n"}

    async def handle(self, reader, writer):
        try:
            while line := await reader.readline():
                args = []
                for _ in range(int(line[1:])):
                    size = int((await reader.readline())[1:])
                    args.append((await reader.readexactly(size + 2))[:-2])
                command = args[0].upper()
                reply = self.REPLIES.get(command)
                if reply is None:
                    reply = b"-ERR unknown command '" + args[0] + b"'\r\n"
                writer.write(reply)
                await writer.drain()
        finally:
            writer.close()


async def test_redis_older_than_5_has_no_bzpopmin():
    from channels_redis.core import RedisChannelLayer
    from redis.exceptions import ResponseError

    server = await asyncio.start_server(RedisFour().handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    layer = RedisChannelLayer(hosts=[f"redis://127.0.0.1:{port}/0"], prefix="gs-old-redis")
    try:
        await layer.send("chat", {"type": "chat.message"})  # sending works on Redis 4...
        with pytest.raises(ResponseError, match="unknown command 'BZPOPMIN'"):
            await layer.receive("chat")  # ...receiving does not
    finally:
        await layer.flush()
        server.close()
        await server.wait_closed()


async def test_the_redis_here_is_new_enough(redis_url):
    import redis.asyncio

    client = redis.asyncio.from_url(redis_url)
    try:
        version = (await client.info("server"))["redis_version"]
    finally:
        await client.aclose()
    assert int(version.split(".")[0]) >= 5, f"Redis {version}: channels-redis needs 5.0 or newer"


# --- An in-memory layer never reaches another process -----------------------------------------

NEWS_CONSUMER = """
    class News(AsyncConsumer):
        async def websocket_connect(self, event):
            await self.channel_layer.group_add("news", self.channel_name)
            await self.send({"type": "websocket.accept"})

        async def news_message(self, event):
            await self.send({"type": "websocket.send", "text": event["text"]})

        async def websocket_disconnect(self, event):
            await self.channel_layer.group_discard("news", self.channel_name)
            raise StopConsumer()
"""

LAYER_SETTINGS = """
    if os.environ.get("REDIS_URL"):
        CHANNEL_LAYERS = {"default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [os.environ["REDIS_URL"]], "prefix": os.environ["LAYER_PREFIX"]},
        }}
    else:
        CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
"""

SHOUT_COMMAND = """
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer
    from django.core.management.base import BaseCommand


    class Command(BaseCommand):
        def add_arguments(self, parser):
            parser.add_argument("text")

        def handle(self, *args, text, **options):
            async_to_sync(get_channel_layer().group_send)(
                "news", {"type": "news.message", "text": text})
"""


def news_lesson(folder):
    add_consumer(folder, NEWS_CONSUMER, "news", "News")
    add_settings(folder, LAYER_SETTINGS)
    commands = folder / "app" / "management" / "commands"
    commands.mkdir(parents=True)
    (commands.parent / "__init__.py").write_text("")
    (commands / "__init__.py").write_text("")
    (commands / "shout.py").write_text(textwrap.dedent(SHOUT_COMMAND).lstrip())
    return folder


async def shout_and_listen(server, folder, env):
    async with websockets.connect(server.ws("/ws/news/")) as ws:
        shout = await asyncio.to_thread(run, folder, "manage.py", "shout", "hello", env=env)
        assert shout.returncode == 0, shout.stderr
        try:  # the command has finished sending: a message that comes at all comes at once
            async with asyncio.timeout(1):
                return await ws.recv()
        except TimeoutError:
            return None


async def test_in_memory_layer_never_reaches_another_process(gs1, start_server):
    news_lesson(gs1)
    server = start_server(path=gs1, migrate=False)
    # The command's group_send goes to its own process's memory: the socket gets nothing.
    assert await shout_and_listen(server, gs1, env={}) is None


async def test_redis_layer_reaches_the_server_process(gs1, start_server, redis_url):
    news_lesson(gs1)
    env = {"REDIS_URL": redis_url, "LAYER_PREFIX": f"gs-troubleshooting-{uuid.uuid4().hex[:8]}"}
    server = start_server(path=gs1, env=env, migrate=False)
    assert await shout_and_listen(server, gs1, env=env) == "hello"


# --- No CHANNEL_LAYERS: self.channel_layer is None -------------------------------------------

def test_without_channel_layers_setting_the_consumer_has_no_layer(gs1):
    add_consumer(gs1, NEWS_CONSUMER, "news", "News")
    results = probe(gs1, """
        communicator = WebsocketCommunicator(application, "/ws/news/")
        try:
            await communicator.connect()
        except Exception as error:
            report([type(error).__name__, str(error)])
    """)
    assert results == [["AttributeError", "'NoneType' object has no attribute 'group_add'"]]


def test_with_channel_layers_setting_the_consumer_joins_its_group(gs1):
    news_lesson(gs1)  # adds the in-memory CHANNEL_LAYERS setting
    results = probe(gs1, """
        communicator = WebsocketCommunicator(application, "/ws/news/")
        report((await communicator.connect())[0])
        await communicator.disconnect()
    """)
    assert results == [True]


# --- "No handler for message type chat.message" -------------------------------------------

CHAT_PROBE = """
    communicator = WebsocketCommunicator(
        application, "/ws/chat/lobby/", headers=[(b"origin", b"http://127.0.0.1:8000")])
    await communicator.connect()
    await communicator.receive_json_from()  # gs4's first frame: {"channel_name": ...}
    await communicator.send_json_to({"message": "hi"})
    try:
        report(await communicator.receive_json_from())
        await communicator.disconnect()
    except Exception as error:
        report([type(error).__name__, str(error)])
"""


@pytest.mark.parametrize("handler, expected", [
    ("send_message", ["ValueError", "No handler for message type chat.message"]),
    ("chat_message", {"message": "hi"}),
])
def test_message_type_chat_dot_message_calls_chat_message(tmp_path, handler, expected):
    gs4 = copy_lesson(4, tmp_path)
    # gs4's chat broadcasts {"type": "chat.message"}; rename the handler that receives it.
    edit(gs4 / "chat" / "consumers.py", "async def chat_message(self, event):",
         f"async def {handler}(self, event):")
    assert probe(gs4, CHAT_PROBE, package="gs4") == [expected]


# --- A handshake refused by the origin check ------------------------------------------------

async def test_origin_check_refuses_foreign_and_missing_origins(tmp_path, start_server):
    # gs4 as it is: its websocket stack is wrapped in AllowedHostsOriginValidator.
    server = start_server(path=copy_lesson(4, tmp_path), migrate=False)
    url = server.ws("/ws/chat/lobby/")
    assert await handshake_status(url, origin=server.origin) == 101
    assert await handshake_status(url, origin="http://localhost:1234") == 101
    # Another site, a host missing from ALLOWED_HOSTS, or a client that sends no Origin at all.
    assert await handshake_status(url, origin="https://evil.example") == 403
    assert await handshake_status(url, origin="http://192.168.1.20:8000") == 403
    assert await handshake_status(url) == 403
    assert await logged(server, "WebSocket REJECT /ws/chat/lobby/")


async def test_origin_check_accepts_a_host_added_to_allowed_hosts(tmp_path, start_server):
    env = {"DJANGO_ALLOWED_HOSTS": "127.0.0.1,192.168.1.20"}
    server = start_server(path=copy_lesson(4, tmp_path), env=env, migrate=False)
    url = server.ws("/ws/chat/lobby/")
    assert await handshake_status(url, origin="http://192.168.1.20:8000") == 101


# --- A tiny project of our own ----------------------------------------------------------------
# The entries below need no lesson: each builds the smallest Channels project that shows the
# error, so they keep working while the lessons change.

MINI_SETTINGS = """
    SECRET_KEY = "troubleshooting-only"
    DEBUG = True
    ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    INSTALLED_APPS = ["daphne", "django.contrib.contenttypes", "django.contrib.auth"]
    ROOT_URLCONF = "mini.urls"
    ASGI_APPLICATION = "mini.asgi.application"
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
"""

MINI_ASGI = """
    import os

    from django.core.asgi import get_asgi_application

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mini.settings")
    django_asgi_app = get_asgi_application()

    from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
    from django.urls import path  # noqa: E402

    from mini import consumers  # noqa: E402

    application = ProtocolTypeRouter({"http": django_asgi_app, "websocket": URLRouter([
        path(f"ws/{name.lower()}/", getattr(consumers, name).as_asgi())
        for name in consumers.ROUTED
    ])})
"""

MINI_MANAGE = """
    import os
    import sys

    from django.core.management import execute_from_command_line

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mini.settings")
    execute_from_command_line(sys.argv)
"""

ECHO = """
    from channels.generic.websocket import WebsocketConsumer

    ROUTED = ["Echo"]


    class Echo(WebsocketConsumer):
        def receive(self, text_data=None, bytes_data=None):
            self.send(text_data=text_data)
"""


def mini_project(folder, consumers=ECHO, settings=""):
    """A one-app Channels project in `folder`: mini/settings.py, asgi.py (every class named in
    consumers.ROUTED served at ws/<name>/), consumers.py, and manage.py."""
    package = folder / "mini"
    package.mkdir(parents=True)
    files = {"__init__.py": "", "urls.py": "urlpatterns = []\n",
             "settings.py": textwrap.dedent(MINI_SETTINGS) + textwrap.dedent(settings),
             "asgi.py": MINI_ASGI, "consumers.py": consumers}
    for name, text in files.items():
        (package / name).write_text(textwrap.dedent(text).lstrip())
    (folder / "manage.py").write_text(textwrap.dedent(MINI_MANAGE).lstrip())
    return folder


def mini_script(folder, body, env=None):
    """Run `body` as a script in the mini project after django.setup(); returns the result."""
    script = "import django\ndjango.setup()\n" + textwrap.dedent(body).lstrip()
    (folder / "script.py").write_text(script)
    return run(folder, "script.py", env={"DJANGO_SETTINGS_MODULE": "mini.settings", **(env or {})})


# --- You cannot use AsyncToSync in the same thread as an async event loop ---------------------

NOTIFY_HELPER = """
    import asyncio

    from asgiref.sync import async_to_sync, sync_to_async
    from channels.layers import get_channel_layer


    def notify(text):  # a sync helper, written for views and commands
        async_to_sync(get_channel_layer().group_send)("news", {"type": "news", "text": text})


    async def from_async_code():
        try:
            notify("hi")  # the mistake: sync code that blocks on async code, called in the loop
        except RuntimeError as error:
            print("error:", error)
        await get_channel_layer().group_send("news", {"type": "news", "text": "hi"})  # fix 1
        await sync_to_async(notify)("hi")  # fix 2: run the sync helper in a thread
        print("fixed")


    asyncio.run(from_async_code())
"""


def test_async_to_sync_inside_the_event_loop_is_refused(tmp_path):
    result = mini_script(mini_project(tmp_path), NOTIFY_HELPER)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "error: You cannot use AsyncToSync in the same thread as an async event loop - "
        "just await the async function directly.", "fixed"]


# --- Event loop is closed, from a sync worker --------------------------------------------------

WORKER = """
    import redis.asyncio
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    # Every async_to_sync() call from plain sync code runs its own event loop, closed at the end.
    client = redis.asyncio.from_url("{url}")  # made once, so bound to the first call's loop
    for task in range(2):
        try:
            async_to_sync(client.ping)()
            print("own client: ok")
        except RuntimeError as error:
            print("own client:", error)

    layer = get_channel_layer()  # channels-redis keeps one pool per loop and closes it with it
    for task in range(3):
        async_to_sync(layer.group_send)("news", {{"type": "news", "text": "task done"}})
    print("layer: ok", len(layer._layers))
"""


def test_an_async_client_reused_across_async_to_sync_calls_finds_its_loop_closed(
        tmp_path, redis_url):
    settings = f"""
        CHANNEL_LAYERS = {{"default": {{"BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {{"hosts": ["{redis_url}"], "prefix": "gs-ts-{uuid.uuid4().hex[:8]}"}}}}}}
    """
    folder = mini_project(tmp_path, settings=settings)
    result = mini_script(folder, WORKER.format(url=redis_url))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "own client: ok", "own client: Event loop is closed", "layer: ok 0"]
    assert "Event loop is closed" not in result.stderr


# --- connect() raises TimeoutError ----------------------------------------------------------

SLOW_CONSUMERS = """
    import asyncio

    from channels.generic.websocket import AsyncWebsocketConsumer

    ROUTED = []


    class SlowToFail(AsyncWebsocketConsumer):
        async def connect(self):
            await asyncio.sleep(0.5)  # a slow first query, a slow service...
            raise LookupError("the real problem")
"""

SLOW_PROBE = """
    import asyncio

    from channels.testing import WebsocketCommunicator

    from mini.consumers import SlowToFail


    async def main():
        # connect() looks at the consumer only when its timeout runs out: shorter, then longer,
        # than the consumer takes to fail.
        for timeout in (0.2, 1):
            communicator = WebsocketCommunicator(SlowToFail.as_asgi(), "/")
            try:
                await communicator.connect(timeout=timeout)
            except Exception as error:
                print(timeout, type(error).__name__, error)


    asyncio.run(main())
"""


def test_a_slow_failure_in_connect_shows_as_a_timeout(tmp_path):
    result = mini_script(mini_project(tmp_path, consumers=SLOW_CONSUMERS), SLOW_PROBE)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["0.2 TimeoutError ", "1 LookupError the real problem"]


# --- redis-py 8: TimeoutError every 5 seconds -------------------------------------------------

async def test_a_socket_timeout_shorter_than_the_layers_wait_breaks_receive(redis_url):
    from channels_redis.core import RedisChannelLayer
    from redis.exceptions import TimeoutError as RedisTimeout

    prefix = f"gs-ts-{uuid.uuid4().hex[:8]}"
    # redis-py 8 defaults socket_timeout to 5 s, the length of channels-redis's BZPOPMIN wait
    # (brpop_timeout = 5): an idle receive() races the two. 0.3 s here makes it certain and quick.
    assert RedisChannelLayer.brpop_timeout == 5
    short = RedisChannelLayer(hosts=[{"address": redis_url, "socket_timeout": 0.3}], prefix=prefix)
    with pytest.raises(RedisTimeout):
        await short.receive(await short.new_channel())
    await short.flush()
    # The fix: no client-side timeout for the layer's connections (and a larger pool).
    fixed = RedisChannelLayer(hosts=[{"address": redis_url, "socket_timeout": None,
                                      "max_connections": 1000}], prefix=prefix)
    channel = await fixed.new_channel()
    receiving = asyncio.create_task(fixed.receive(channel))
    await asyncio.sleep(0.6)  # longer than the short timeout above: still waiting, no error
    assert not receiving.done()
    await fixed.send(channel, {"type": "late"})
    assert (await asyncio.wait_for(receiving, 5))["type"] == "late"
    assert fixed.connection(0).connection_pool.max_connections == 1000
    await fixed.flush()


# --- A page closed with 1006 after a restart ----------------------------------------------------

async def test_a_server_that_dies_closes_sockets_with_1006(tmp_path, start_server):
    server = start_server(path=mini_project(tmp_path), migrate=False)
    async with websockets.connect(server.ws("/ws/echo/")) as ws:
        await ws.send("hi")
        assert await ws.recv() == "hi"
        # The auto-reloader ends the old server process without a closing handshake.
        server.process.kill()
        with pytest.raises(websockets.ConnectionClosedError):
            await ws.recv()
    assert ws.close_code == 1006  # "abnormal closure": no close frame ever came
    server.process.wait()
    server.start(migrate=False)  # what the reloader does next; a page must open a new socket
    async with websockets.connect(server.ws("/ws/echo/")) as again:
        await again.send("back")
        assert await again.recv() == "back"
