"""The load generator: websocket clients written with asyncio and the websockets library.

Everything here talks to 127.0.0.1 only, and every loop is bounded in count and in time.

One client process is one event loop on one core. When that loop is busier than the server it
measures, the benchmark measures the client instead, so the heavier scenarios spread their
sockets over several client processes (Clients). Each process reports the CPU time it used:
a client near 100% of one core is the bottleneck, and run.py records it.
"""

import asyncio
import contextlib
import json
import math
import multiprocessing
import random
import resource
import ssl
import time
from collections import defaultdict

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

# No compression (the servers would spend their time in zlib), no keepalive pings to skew counts.
OPTIONS = {"compression": None, "ping_interval": None, "open_timeout": 20, "close_timeout": 2,
           "max_size": 2**20}


def connect_options(origin=None, cookie=None, cafile=None, open_timeout=None):
    """connect()'s keyword arguments: the page's Origin, a session cookie (a logged-in user),
    and for wss:// the certificate to trust (the stack's self-signed one)."""
    options = dict(OPTIONS, origin=origin)
    if open_timeout:
        options["open_timeout"] = open_timeout
    if cookie:
        options["additional_headers"] = {"Cookie": cookie}
    if cafile:
        options["ssl"] = ssl.create_default_context(cafile=cafile)
    return options


async def open_many(url, n, origin=None, concurrency=50, cookie=None, cafile=None,
                    open_timeout=None):
    """n sockets to url, at most `concurrency` handshakes at a time (a listen backlog is short)."""
    gate = asyncio.Semaphore(concurrency)
    options = connect_options(origin, cookie, cafile, open_timeout)

    async def one():
        async with gate:
            return await connect(url, **options)

    results = await asyncio.gather(*(one() for _ in range(n)), return_exceptions=True)
    sockets = [r for r in results if not isinstance(r, BaseException)]
    if len(sockets) < n:
        await close_many(sockets)
        error = next(r for r in results if isinstance(r, BaseException))
        raise RuntimeError(f"{n - len(sockets)} of {n} connections to {url} failed: {error!r}")
    return sockets


async def close_many(sockets, timeout=10):
    if sockets:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True), timeout)


def percentile(values, q):
    """The q-th percentile (0..100) by nearest rank; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = math.ceil(q / 100 * len(ordered))  # the smallest value with q% of them at or below it
    return ordered[max(0, min(len(ordered), rank) - 1)]


# --- Scenario 1: concurrent count streams (gs2, gs3) -------------------------------------------

def projected_end(ends, clients):
    """When the last of `clients` streams would end, from the pace of the first `ends`."""
    if len(ends) < 2:
        return None
    pace = (ends[-1] - ends[0]) / (len(ends) - 1)
    return ends[0] + pace * (clients - 1)


async def streams(url, clients, count, interval, time_limit):
    """C sockets each ask for one stream at once; the wall time until the last {"done"}.

    Stops at time_limit, or as soon as the pace of the streams that ended shows the rest
    cannot end by then; such a run says how many streams had ended, and when.
    """
    sockets = await open_many(url, clients)
    request = json.dumps({"count": count, "interval": interval})

    async def stream(ws):
        await ws.send(request)
        frames = 0
        async for frame in ws:
            data = json.loads(frame)
            if data.get("done"):
                return time.monotonic(), frames
            if "n" in data:
                frames += 1
            else:
                raise RuntimeError(f"unexpected frame {frame!r}")
        raise RuntimeError("the server closed the socket before {\"done\": true}")

    cpu = time.process_time()
    started = time.monotonic()
    pending = {asyncio.create_task(stream(ws)) for ws in sockets}
    ends, errors = [], []
    while pending:
        left = started + time_limit - time.monotonic()
        if left <= 0:
            break
        done, pending = await asyncio.wait(pending, timeout=left,
                                           return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task.exception():
                errors.append(repr(task.exception()))
            else:
                end, frames = task.result()
                if frames != count:
                    errors.append(f"{frames} frames instead of {count}")
                ends.append(end - started)
        ends.sort()
        # Once a few streams have ended, their pace tells whether the rest can end in time;
        # if they cannot, waiting for the time limit would only say so later.
        if pending and len(ends) >= 4 and projected_end(ends, clients) > time_limit:
            break
    elapsed = time.monotonic() - started
    for task in pending:
        task.cancel()
    cpu = time.process_time() - cpu
    await close_many(sockets)
    return {
        "clients": clients,
        "finished": len(ends),
        "ends_s": ends,
        "capped": bool(pending),
        "elapsed_s": elapsed,
        # The run's answer: the wall time until the last stream ended (None if some never did).
        "wall_s": max(ends) if ends and not pending and not errors else None,
        "first_done_s": min(ends) if ends else None,
        "errors": errors[:3],
        "client_cpu": cpu / elapsed if elapsed else None,
    }


# --- Client processes ----------------------------------------------------------------------------

class Clients:
    """P client processes, each running its own event loop, told what to do over a pipe.

    `await clients.call(command, [kwargs for process 0, kwargs for process 1, ...])` runs one of
    COMMANDS in those processes at once and returns their answers. The processes live for the
    whole benchmark: each scenario opens and closes its own sockets in them.
    """

    def __init__(self, processes):
        # spawn: a forked child would inherit the parent's running event loop.
        context = multiprocessing.get_context("spawn")
        self.pipes, self.processes, self.closed = [], [], False
        for _ in range(processes):
            parent, child = context.Pipe()
            process = context.Process(target=_client_main, args=(child,), daemon=True)
            process.start()
            self.pipes.append(parent)
            self.processes.append(process)

    def __len__(self):
        return len(self.processes)

    async def call(self, command, kwargs_list, timeout=120):
        """Run `command` in the first len(kwargs_list) processes; their answers, in order."""
        loop = asyncio.get_running_loop()
        pipes = self.pipes[:len(kwargs_list)]
        for pipe, kwargs in zip(pipes, kwargs_list, strict=True):
            pipe.send((command, kwargs))

        deadline = time.monotonic() + timeout

        def answer(pipe):
            # In short waits: a benchmark stopped with Ctrl-C must not wait out the timeout.
            while not pipe.poll(0.2):
                if self.closed:
                    raise RuntimeError(f"the benchmark stopped while waiting for {command}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"client process gave no answer to {command} in "
                                       f"{timeout}s")
            return pipe.recv()

        answers = await asyncio.gather(
            *(loop.run_in_executor(None, answer, pipe) for pipe in pipes))
        for reply in answers:
            if isinstance(reply, dict) and "error" in reply:
                raise RuntimeError(f"client process, {command}: {reply['error']}")
        return answers

    def close(self):
        self.closed = True
        for pipe in self.pipes:
            with contextlib.suppress(OSError):
                pipe.send(None)
        for process in self.processes:
            process.join(10)
            if process.is_alive():
                process.terminate()
                process.join(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def split(total, parts):
    """total sockets over `parts` processes, as evenly as possible: 10, 3 -> [4, 3, 3]."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def raise_fd_limit():
    """As many open files as the hard limit allows: every socket is one. Returns the limits."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def _client_main(pipe):
    raise_fd_limit()
    asyncio.run(_serve(pipe))


async def _serve(pipe):
    loop = asyncio.get_running_loop()
    state = {"sockets": [], "tasks": []}
    try:
        while True:
            message = await loop.run_in_executor(None, pipe.recv)
            if message is None:
                break
            command, kwargs = message
            try:
                reply = await COMMANDS[command](state, **kwargs)
            except Exception as error:  # reported to the parent, which stops the scenario
                reply = {"error": repr(error)}
            pipe.send(reply)
    finally:
        state["closing"] = True
        for task in state["tasks"]:
            task.cancel()
        await close_many(state["sockets"] + list(state.get("live", ())))


async def _open(state, url, n, origin=None, cookie=None, cafile=None, concurrency=50,
                open_timeout=None):
    state["sockets"] = await open_many(url, n, origin, concurrency, cookie, cafile,
                                       open_timeout) if n else []
    return len(state["sockets"])


async def _close(state):
    state["closing"] = True  # held sockets (_hold) must not reconnect now
    for task in state["tasks"]:
        task.cancel()
    state["tasks"] = []
    await close_many(state["sockets"] + list(state.pop("live", ())))
    state["sockets"] = []
    state["closing"] = False
    return True


# --- Scenario 2: echo throughput and round-trip latency ----------------------------------------

async def _echo(state, start_at, duration, payload, max_messages, sample=20000):
    """Each socket sends a frame and waits for it to come back, again and again, until `duration`
    is up or it has done max_messages round trips."""
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    end = start_at + duration
    rtts = []

    async def loop(ws):
        for _ in range(max_messages):
            if time.monotonic() >= end:
                break
            sent = time.monotonic()
            await ws.send(payload)
            reply = await ws.recv()
            if reply != payload:
                raise RuntimeError(f"echo sent back {reply[:60]!r}")
            rtts.append(time.monotonic() - sent)

    cpu = time.process_time()
    await asyncio.wait_for(asyncio.gather(*(loop(ws) for ws in state["sockets"])), duration + 30)
    elapsed = time.monotonic() - start_at
    cpu = time.process_time() - cpu
    step = max(1, len(rtts) // sample)
    return {"round_trips": len(rtts), "elapsed_s": elapsed, "cpu_s": cpu, "rtts": rtts[::step]}


# --- Scenarios 3 and 4: fan-out in a chat room -------------------------------------------------

async def _listen(state, url, n, origin, cookie=None, cafile=None, first_frame=True,
                  concurrency=50, open_timeout=None):
    """n sockets join one chat room; each records when every bench message reaches it.

    A socket is in the room once its handshake is done (every chat here joins its groups
    before accept()). gs4 and gs8 then send a first frame that names the socket's channel;
    the tutorial's consumer sends none (first_frame=False).
    """
    await _open(state, url, n, origin, cookie, cafile, concurrency, open_timeout)
    # RedisChannelLayer's names are "specific.<process>!<socket>": they tell which server
    # process holds each socket (uvicorn's workers share them out as they accept).
    # RedisPubSubChannelLayer's have no "!" and do not tell, nor does a consumer that never
    # says its name: "?".
    processes = defaultdict(int)
    for ws in state["sockets"]:
        name = await _first_channel_name(ws) if first_frame else None
        processes[name.split("!")[0] if name and "!" in name else "?"] += 1
    arrivals = state["arrivals"] = defaultdict(list)  # tag -> [(arrived, sent), ...]
    state["tasks"] = [asyncio.create_task(_read(ws, arrivals)) for ws in state["sockets"]]
    return {"n": n, "processes": dict(processes)}


async def _first_channel_name(ws, timeout=20):
    """The channel name a chat sends first ({"channel_name": ...}, alone or with its history);
    None if its first frame has none."""
    first = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    return first.get("channel_name") if isinstance(first, dict) else None


def _record(frame, arrivals):
    """A bench message's arrival time, by tag; other frames (history, who is online) pass."""
    now = time.monotonic()
    data = json.loads(frame)
    # A room's message, or (the stack) a notification to every socket: gs8's notify.
    text = (data.get("message") or data.get("notification")) if isinstance(data, dict) else None
    if isinstance(text, str) and text.startswith("bench "):
        _, tag, _seq, sent = text.split()
        arrivals[tag].append((now, float(sent)))


async def _read(ws, arrivals):
    with contextlib.suppress(ConnectionClosed):
        async for frame in ws:
            _record(frame, arrivals)


async def _collect(state, tag, per_socket, timeout):
    """Wait until every socket here has `per_socket` messages tagged `tag`, or the timeout."""
    held = state["live"] if "live" in state else state["sockets"]
    expected = per_socket * len(held)
    deadline = time.monotonic() + timeout
    while len(state["arrivals"][tag]) < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.005)
    got = state["arrivals"].pop(tag, [])
    return {"expected": expected, "received": len(got),
            "latencies": [arrived - sent for arrived, sent in got],
            "last_arrival": max((arrived for arrived, _ in got), default=None),
            "cpu_total_s": time.process_time()}


async def _cpu(state):
    return time.process_time()


# --- The stack's capacity: many idle sockets through nginx, and their return after a fault ----

def backoff(attempt, base, cap):
    """The wait before reconnection attempt `attempt` (1, 2, ...): exponential, capped, with
    full jitter, so that the sockets of a dead host do not all come back at the same moment."""
    return random.uniform(0, min(cap, base * 2 ** (attempt - 1)))


async def _hold(state, url, n, origin=None, cookie=None, cafile=None, reconnect=False,
                backoff_base=1.0, backoff_cap=30.0, concurrency=50, timeout=300,
                room_size=None, first=0):
    """Open n sockets and keep them: each reads (and records bench messages) until it closes.

    With room_size, url holds "{room}": sockets first, first+1, ... fill rooms of that size.

    reconnect=False: a socket that fails to open, or closes, is counted and not retried (how
    many the server holds). reconnect=True: like the gs8 page, it tries again after backoff(),
    and each return is timed (a host killed under it).
    """
    options = connect_options(origin, cookie, cafile)
    gate = asyncio.Semaphore(concurrency)
    live = state["live"] = set()
    state["closing"] = False
    arrivals = state["arrivals"] = defaultdict(list)
    hold = state["hold"] = {"failed": 0, "errors": defaultdict(int), "drops": [], "returns": []}

    async def keep(first, url):
        attempt = 0
        while not state["closing"]:
            try:
                async with gate:
                    ws = await connect(url, **options)
            except Exception as error:  # refused, reset, a timeout, an HTTP error status
                hold["errors"][f"{type(error).__name__}: {error}"[:120]] += 1
                if not reconnect:
                    hold["failed"] += 1
                    first.set_result(False)
                    return
                attempt += 1
                await asyncio.sleep(backoff(attempt, backoff_base, backoff_cap))
                continue
            live.add(ws)
            if first.done():
                hold["returns"].append(time.monotonic())
            else:
                first.set_result(True)
            attempt = 0
            await _read(ws, arrivals)
            live.discard(ws)
            if state["closing"]:
                return
            hold["drops"].append(time.monotonic())
            if not reconnect:
                return
            attempt = 1
            await asyncio.sleep(backoff(attempt, backoff_base, backoff_cap))

    started = time.monotonic()
    firsts = [asyncio.get_running_loop().create_future() for _ in range(n)]
    urls = [url.format(room=(first + i) // room_size) if room_size else url for i in range(n)]
    state["tasks"] = [asyncio.create_task(keep(f, u)) for f, u in zip(firsts, urls, strict=True)]
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(asyncio.gather(*firsts), timeout)
    return {"opened": sum(1 for f in firsts if f.done() and f.result()),
            "failed": hold["failed"], "pending": sum(1 for f in firsts if not f.done()),
            "seconds": time.monotonic() - started,
            "errors": sorted(hold["errors"].items(), key=lambda kv: -kv[1])[:3]}


async def _held(state):
    """How many held sockets are open now, and when each drop and each return happened."""
    hold = state["hold"]
    return {"up": len(state["live"]), "drops": list(hold["drops"]),
            "returns": list(hold["returns"]),
            "errors": sorted(hold["errors"].items(), key=lambda kv: -kv[1])[:3],
            "cpu_total_s": time.process_time()}


COMMANDS = {"open": _open, "close": _close, "echo": _echo, "listen": _listen,
            "collect": _collect, "cpu": _cpu, "hold": _hold, "held": _held}


class Sender:
    """The one socket that talks in a fan-out room; it also reads (and drops) its own echoes."""

    def __init__(self, url, origin, cookie=None, cafile=None, first_frame=True):
        self.url, self.first_frame = url, first_frame
        self.options = connect_options(origin, cookie, cafile)

    async def __aenter__(self):
        self.ws = await connect(self.url, **self.options)
        if self.first_frame:
            await asyncio.wait_for(self.ws.recv(), 20)
        self.drain = asyncio.create_task(self._drain())
        return self

    async def _drain(self):
        async for frame in self.ws:
            data = json.loads(frame)
            if isinstance(data, dict) and "error" in data:
                # A refused message would show up as "lost" with no reason: say it here.
                print(f"the sender was answered {frame[:200]}", flush=True)

    async def send(self, tag, seq):
        await self.ws.send(json.dumps({"message": f"bench {tag} {seq} {time.monotonic():.6f}"}))

    async def __aexit__(self, *exc):
        self.drain.cancel()
        await close_many([self.ws])
