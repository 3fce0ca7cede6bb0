"""The production stack's capacity (issue 14): `bench/run.py --only stack` (`make bench-stack`).

gs8's own Stack (gs8_production/deploy/stack.py: nginx with TLS, gunicorn, two uvicorn "hosts",
Redis with a replica and three Sentinels, PostgreSQL) on free ports, its files in a temporary
folder and its database a scratch one on the local PostgreSQL, dropped afterwards. Then:

1. idle sockets: N websockets over wss:// through nginx, one logged-in user ("bench") for all
   of them, opened from several client processes; how many the stack holds, and the memory
   of the ASGI processes (RSS, every process of both hosts) before and after, per socket;
2. one message to all of them: p50/p99 from the sender's send to each socket's frame, and
   how many never arrived;
3. a host dies: 1,000 sockets in a room, "asgi-a" killed (SIGKILL, all its workers); the
   sockets it held are closed by nginx and reconnect with back-off and jitter, as the gs8 page
   does, through nginx to the surviving host: how long until all of them are back, and does
   one message then reach all of them.

Everything talks to 127.0.0.1 only; every wait is bounded in time.
"""

import asyncio
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from loadgen import Clients, percentile, raise_fd_limit, split
from scenarios import median, ms
from servers import drop_database, find_lesson, login_cookie

from testkit import services
from testkit.servers import free_port


def load_stack_module(lesson):
    """gs8_production/deploy/stack.py, imported from its file (deploy/ is not a package)."""
    spec = importlib.util.spec_from_file_location("gs8_stack", lesson / "deploy" / "stack.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rss_kib(pids):
    """Resident memory of these processes, summed (KiB, from /proc/<pid>/status)."""
    total = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        total += int(match.group(1)) if match else 0
    return total


def group_pids(module, stack, names):
    """Every live process of these parts of the stack (uvicorn's workers included)."""
    groups = {stack.processes[name].pid for name in names if name in stack.processes}
    return module.alive_in(groups)


def nginx_limits(stack):
    """worker_processes and worker_connections of the rendered nginx.conf."""
    text = (stack.state / "nginx.conf").read_text()
    processes = re.search(r"^\s*worker_processes\s+(\S+);", text, re.MULTILINE)
    connections = re.search(r"^\s*worker_connections\s+(\d+);", text, re.MULTILINE)
    rlimit = re.search(r"^\s*worker_rlimit_nofile\s+(\d+);", text, re.MULTILINE)
    return {"worker_processes": processes.group(1) if processes else "1",
            "worker_connections": int(connections.group(1)) if connections else 512,
            "worker_rlimit_nofile": int(rlimit.group(1)) if rlimit else None}


def nginx_complaints(stack):
    """The nginx error log's lines about running out of connections or files, counted."""
    path = stack.state / "logs" / "nginx-error.log"
    text = path.read_text(errors="replace") if path.exists() else ""
    found = {}
    for needle in ("worker_connections are not enough", "Too many open files",
                   "no live upstreams", "Connection refused"):
        count = text.count(needle)
        if count:
            found[needle] = count
    return found


# What `manage.py notify` does (one group_send to the group every gs8 socket joins), in a
# process that stays up: the time is taken just before each group_send, so Django's start is
# not counted. time.monotonic() is one clock for every process of the machine.
NOTIFY = """
import sys, time
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from chat.consumers import NOTIFICATIONS_GROUP
send = async_to_sync(get_channel_layer().group_send)
print("ready", flush=True)
for line in sys.stdin:
    text = f"bench {line.strip()} 0 {time.monotonic():.6f}"
    send(NOTIFICATIONS_GROUP, {"type": "chat.notification", "text": text})
    print("sent", flush=True)
"""


class Notifier:
    """A gs8 process with the stack's settings that notifies every socket, on demand."""

    def __init__(self, stack, lesson):
        self.errors = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "shell", "-c", NOTIFY], cwd=lesson, env=stack.env(),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.errors, text=True,
            start_new_session=True)
        # Django's shell may say first how many models it imported: read up to "ready".
        lines = iter(self.process.stdout.readline, "")
        if not any(line.strip() == "ready" for line in lines):
            self.errors.seek(0)
            raise RuntimeError(f"the notifier did not start:\n{self.errors.read()[-2000:]}")

    def send(self, tag):
        self.process.stdin.write(f"{tag}\n")
        self.process.stdin.flush()
        return self.process.stdout.readline().strip() == "sent"

    def close(self):
        self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


async def one_message_to_all(clients, notifier, tag_prefix, runs, timeout, say, label):
    """Notify every socket `runs` times, one at a time; for each, who got it and how fast."""
    results = []
    for run in range(runs):
        await asyncio.sleep(0.5)
        expected = sum(h["up"] for h in await clients.call("held", [{}] * len(clients)))
        tag = f"{tag_prefix}{run}"
        await asyncio.to_thread(notifier.send, tag)
        got = await clients.call("collect", [{"tag": tag, "per_socket": 1,
                                              "timeout": timeout}] * len(clients),
                                 timeout=timeout + 60)
        latencies = [t for a in got for t in a["latencies"]]
        received = sum(a["received"] for a in got)
        results.append({"sockets": expected, "received": received,
                        "lost": expected - received,
                        "p50_ms": ms(percentile(latencies, 50)),
                        "p99_ms": ms(percentile(latencies, 99)),
                        "max_ms": ms(max(latencies, default=None))})
        r = results[-1]
        say(f"  {label}: one message to {expected} sockets: p50 {r['p50_ms'] or 0:.0f} ms, "
            f"p99 {r['p99_ms'] or 0:.0f} ms, lost {r['lost']}")
    return results


def hold_calls(url, n, clients, extra):
    """The hold command for each client process: its share of n sockets, in rooms."""
    calls, first = [], 0
    for k in split(n, len(clients)):
        calls.append({"url": url, "n": k, "first": first, **extra})
        first += k
    return calls


async def idle_sockets(module, stack, clients, notifier, p, client, say):
    """Phase 1 and 2: N idle sockets, their memory, and one message to all of them."""
    url = f"wss://127.0.0.1:{stack.port}/ws/chat/idle{{room}}/"
    asgi = ("asgi-a", "asgi-b")
    rss_before = rss_kib(group_pids(module, stack, asgi))
    nginx_before = rss_kib(group_pids(module, stack, ["nginx"]))
    redis_before = rss_kib(group_pids(module, stack, ["redis-primary"]))
    started = time.monotonic()
    answers = await clients.call("hold", hold_calls(url, p["sockets"], clients, {
        "reconnect": False, "timeout": p["open_timeout"], "room_size": p["room_size"],
        "concurrency": p["concurrency"], **client}), timeout=p["open_timeout"] + 120)
    open_s = time.monotonic() - started
    opened = sum(a["opened"] for a in answers)
    errors = {}
    for a in answers:
        for text, count in a["errors"]:
            errors[text] = errors.get(text, 0) + count
    say(f"  opened {opened} of {p['sockets']} sockets in {open_s:.0f} s"
        + (f"; failures: {sorted(errors.items(), key=lambda kv: -kv[1])[:3]}" if errors else ""))
    await asyncio.sleep(p["settle"])
    held = sum(h["up"] for h in await clients.call("held", [{}] * len(clients)))
    rss_after = rss_kib(group_pids(module, stack, asgi))
    nginx_after = rss_kib(group_pids(module, stack, ["nginx"]))
    redis_after = rss_kib(group_pids(module, stack, ["redis-primary"]))
    say(f"  held {held} after {p['settle']} s; ASGI RSS {rss_before / 1024:.0f} -> "
        f"{rss_after / 1024:.0f} MiB")
    result = {
        "asked": p["sockets"], "opened": opened, "held": held, "open_s": open_s,
        "failed": sum(a["failed"] for a in answers),
        "pending": sum(a["pending"] for a in answers),
        "errors": sorted(errors.items(), key=lambda kv: -kv[1])[:5],
        "asgi_rss_mib": [rss_before / 1024, rss_after / 1024],
        "nginx_rss_mib": [nginx_before / 1024, nginx_after / 1024],
        "redis_rss_mib": [redis_before / 1024, redis_after / 1024],
        "asgi_kib_per_socket": (rss_after - rss_before) / held if held else None,
        "nginx_kib_per_socket": (nginx_after - nginx_before) / held if held else None,
        "asgi_processes": len(group_pids(module, stack, asgi)),
    }
    if held:
        runs = await one_message_to_all(clients, notifier, "all", p["message_runs"],
                                        p["timeout"], say, "idle")
        result["messages"] = runs
        result["p50_ms"] = median([r["p50_ms"] for r in runs])
        result["p99_ms"] = median([r["p99_ms"] for r in runs])
        result["lost"] = sum(r["lost"] for r in runs)
    result["nginx_errors"] = nginx_complaints(stack)
    await clients.call("close", [{}] * len(clients), timeout=120)
    return result


async def failover(stack, clients, notifier, p, client, say):
    """Phase 3: sockets in rooms, one host killed, the time until every socket is back."""
    url = f"wss://127.0.0.1:{stack.port}/ws/chat/failover{{room}}/"
    n = p["failover_sockets"]
    answers = await clients.call("hold", hold_calls(url, n, clients, {
        "reconnect": True, "timeout": p["open_timeout"], "room_size": p["room_size"],
        "backoff_base": p["backoff_base"], "backoff_cap": p["backoff_cap"],
        "concurrency": p["concurrency"], **client}), timeout=p["open_timeout"] + 120)
    opened = sum(a["opened"] for a in answers)
    await asyncio.sleep(2)
    killed = time.monotonic()
    await asyncio.to_thread(stack.kill, "asgi-a")
    say(f"  {opened} sockets open; killed asgi-a")
    deadline = killed + p["failover_timeout"]
    back_at, status = None, []
    while time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        status = await clients.call("held", [{}] * len(clients))
        up = sum(s["up"] for s in status)
        drops = sum(len(s["drops"]) for s in status)
        returns = sum(len(s["returns"]) for s in status)
        # Every socket the dead host held has closed, come back, and is open now.
        if time.monotonic() - killed > 1 and up == opened and drops and returns >= drops:
            back_at = time.monotonic()
            break
    drops = sorted(t - killed for s in status for t in s["drops"])
    returns = sorted(t - killed for s in status for t in s["returns"])
    up = sum(s["up"] for s in status)
    result = {
        "sockets": n, "opened": opened, "dropped": len(drops), "returned": len(returns),
        "up_at_end": up, "all_back": back_at is not None,
        "all_back_s": returns[-1] if back_at and returns else None,
        "half_back_s": returns[len(returns) // 2] if returns else None,
        "last_drop_s": drops[-1] if drops else None,
        "backoff": {"base_s": p["backoff_base"], "cap_s": p["backoff_cap"]},
        "errors": status[0]["errors"] if status else [],
    }
    say(f"  {len(drops)} sockets dropped; " + (
        f"all back after {result['all_back_s']:.1f} s" if back_at else
        f"{up} of {opened} open after {p['failover_timeout']} s"))
    if back_at:
        runs = await one_message_to_all(clients, notifier, "after", 1, p["timeout"], say,
                                        "after the failover")
        result["after"] = runs[0]
    await clients.call("close", [{}] * len(clients), timeout=120)
    return result


async def run_stack(cfg, _clients, say):
    p = cfg["stack"]
    section = {"params": dict(p), "skipped": []}
    lesson = find_lesson("gs8")
    needs = [services.find("stack"), services.find("postgres")]
    if lesson is None or not (lesson / "deploy" / "stack.py").exists():
        section["skipped"].append("gs8_production (with deploy/stack.py) not present: the "
                                  "stack's capacity was not measured")
    for service in needs:
        if not service.ok:
            section["skipped"].append(service.how)
    if section["skipped"]:
        for line in section["skipped"]:
            say(line)
        return section
    # Every socket is an open file in the client, two in nginx and one in the ASGI server:
    # raised before anything starts, so that nginx, uvicorn and the clients inherit it.
    section["fd_limit"] = list(raise_fd_limit())
    module = load_stack_module(lesson)
    postgres = services.find("postgres").where
    database = f"{postgres.rsplit('/', 1)[0]}/gs8_bench_{os.getpid()}"
    state = Path(tempfile.mkdtemp(prefix="bench-stack-"))
    state.chmod(0o755)  # as root, nginx's workers (www-data) read the static files in it
    stack = module.Stack(port=free_port(), workers=p["workers"], state=state,
                         database_url=database, say=lambda *a: None)
    try:
        say(f"  starting the stack: nginx, gunicorn, 2 uvicorn hosts x {p['workers']} "
            "worker(s), Redis + replica + 3 Sentinels, PostgreSQL")
        await asyncio.to_thread(stack.start)
        cookie = await asyncio.to_thread(login_cookie, lesson, stack.env())
        section["nginx"] = nginx_limits(stack)
        client = {"origin": stack.url, "cookie": cookie,
                  "cafile": str(stack.state / "tls" / "cert.pem")}
        notifier = await asyncio.to_thread(Notifier, stack, lesson)
        try:
            with Clients(p["client_processes"]) as clients:
                section["idle"] = await idle_sockets(module, stack, clients, notifier, p,
                                                     client, say)
                section["failover"] = await failover(stack, clients, notifier, p, client, say)
        finally:
            notifier.close()
    finally:
        await asyncio.to_thread(stack.stop)
        try:
            drop_database(postgres, database)
        except Exception as error:  # the numbers matter more than the scratch database
            say(f"  could not drop {database}: {error}")
        shutil.rmtree(state, ignore_errors=True)
    return section
