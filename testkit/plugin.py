"""Fixtures shared by every lesson's tests; each pytest.ini loads them: `-p testkit.plugin`.

- `start_server(env=None, workers=None, migrate=True, path=None)`: start the lesson's real server
  (a new process; `path` serves another folder, such as a modified copy of a lesson) and return a
  LessonServer (`.url`, `.ws(path)`, `.origin`, `.restart()`); stopped after the test.
- `lesson_server`: one such server with the default settings, shared by a test module.
- `redis_url`, `postgres_url`: a real service's URL, or a skip saying how to get it.
- `private_redis`: a redis-server of the test's own on a free port (`.url`, `.stop()`,
  `.start()` on the same port), for fault tests that must stop or restart Redis.
- `browser`: a headless Chromium driven by Selenium.

Mark a test that tries hostile input or a fault with
`@pytest.mark.hostile("what is tried", "the answer the contract gives")`: the docs list them.

A missing service skips the test with a one-line reason; under CI=true it fails it instead.
"""

import os
import tempfile

import pytest

from testkit import hostile, services
from testkit.servers import LessonServer

SERVER_FIXTURES = {"start_server", "lesson_server", "browser"}


def require(name):
    service = services.find(name)
    if not service.ok:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {service.how}", pytrace=False)
        pytest.skip(service.how)
    return service


def pytest_configure(config):
    config.addinivalue_line("markers", "e2e: talks to a real server process (skip: -m 'not e2e')")
    config.addinivalue_line(
        "markers", "hostile(case, answer): hostile input or a fault, and the answer expected"
    )
    # Writes build/hostile/<folder>.json: each hostile case and its result, for the docs' table.
    config.pluginmanager.register(hostile.Recorder(config), "testkit-hostile")


def pytest_collection_modifyitems(items):
    for item in items:
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def start_server(request):
    servers = []

    def start(env=None, workers=None, migrate=True, path=None):
        server = LessonServer(path or request.config.rootpath, env=env, workers=workers)
        servers.append(server)
        return server.start(migrate=migrate)

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def lesson_server(request):
    server = LessonServer(request.config.rootpath).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_url():
    return require("redis").where


@pytest.fixture(scope="session")
def postgres_url():
    return require("postgres").where


@pytest.fixture
def private_redis():
    require("redis-server")
    server = services.PrivateRedis()
    yield server.start()
    server.stop()


@pytest.fixture
def browser():
    require("chromium")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = services.CHROMIUM
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        # Headless, and quiet: this machine may have no network but loopback.
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}"):
            options.add_argument(arg)
        # Naming the driver's path keeps Selenium from trying to download one.
        driver = webdriver.Chrome(service=Service(services.CHROMEDRIVER), options=options)
        driver.implicitly_wait(0)
        try:
            yield driver
        finally:
            driver.quit()
