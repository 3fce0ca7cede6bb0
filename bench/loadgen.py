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
import time
from collections import defaultdict

from websockets.asyncio.client import connect

# No compression (the servers would spend their time in zlib), no keepalive pings to skew counts.
OPTIONS = {"compression": None, "ping_interval": None, "open_timeout": 20, "close_timeout": 2,
           "max_size": 2**20}


async def open_many(url, n, origin=None, concurrency=50):
    """n sockets to url, at most `concurrency` handshakes at a time (a listen backlog is short)."""
    gate = asyncio.Semaphore(concurrency)

    async def one():
        async with gate:
            return await connect(url, origin=origin, **OPTIONS)

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
        self.pipes, self.processes = [], []
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

        def answer(pipe):
            if not pipe.poll(timeout):
                raise TimeoutError(f"client process gave no answer to {command} in {timeout}s")
            return pipe.recv()

        answers = await asyncio.gather(
            *(loop.run_in_executor(None, answer, pipe) for pipe in pipes))
        for reply in answers:
            if isinstance(reply, dict) and "error" in reply:
                raise RuntimeError(f"client process, {command}: {reply['error']}")
        return answers

    def close(self):
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


def _client_main(pipe):
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
        for task in state["tasks"]:
            task.cancel()
        await close_many(state["sockets"])


async def _open(state, url, n, origin=None):
    state["sockets"] = await open_many(url, n, origin) if n else []
    return len(state["sockets"])


async def _close(state):
    for task in state["tasks"]:
        task.cancel()
    state["tasks"] = []
    await close_many(state["sockets"])
    state["sockets"] = []
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

async def _listen(state, url, n, origin):
    """n sockets join one gs4 room; each records when every bench message reaches it."""
    await _open(state, url, n, origin)
    # RedisChannelLayer's names are "specific.<process>!<socket>": they tell which server
    # process holds each socket (uvicorn's workers share them out as they accept).
    # RedisPubSubChannelLayer's have no "!" and do not tell: "?".
    processes = defaultdict(int)
    for ws in state["sockets"]:
        first = json.loads(await asyncio.wait_for(ws.recv(), 20))
        if "channel_name" not in first:
            raise RuntimeError(f"the first frame has no channel_name: {first}")
        name = first["channel_name"]
        processes[name.split("!")[0] if "!" in name else "?"] += 1
    arrivals = state["arrivals"] = defaultdict(list)  # tag -> [(arrived, sent), ...]

    async def reader(ws):
        async for frame in ws:
            now = time.monotonic()
            text = json.loads(frame).get("message", "")
            if text.startswith("bench "):
                _, tag, _seq, sent = text.split()
                arrivals[tag].append((now, float(sent)))

    state["tasks"] = [asyncio.create_task(reader(ws)) for ws in state["sockets"]]
    return {"n": n, "processes": dict(processes)}


async def _collect(state, tag, per_socket, timeout):
    """Wait until every socket here has `per_socket` messages tagged `tag`, or the timeout."""
    expected = per_socket * len(state["sockets"])
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


COMMANDS = {"open": _open, "close": _close, "echo": _echo, "listen": _listen,
            "collect": _collect, "cpu": _cpu}


class Sender:
    """The one socket that talks in a fan-out room; it also reads (and drops) its own echoes."""

    def __init__(self, url, origin):
        self.url, self.origin = url, origin

    async def __aenter__(self):
        self.ws = await connect(self.url, origin=self.origin, **OPTIONS)
        first = json.loads(await asyncio.wait_for(self.ws.recv(), 20))
        if "channel_name" not in first:
            raise RuntimeError(f"the first frame has no channel_name: {first}")
        self.drain = asyncio.create_task(self._drain())
        return self

    async def _drain(self):
        async for _ in self.ws:
            pass

    async def send(self, tag, seq):
        await self.ws.send(json.dumps({"message": f"bench {tag} {seq} {time.monotonic():.6f}"}))

    async def __aexit__(self, *exc):
        self.drain.cancel()
        await close_many([self.ws])
