"""The four scenarios. Each starts the servers it needs, measures, stops them, and returns a dict
for results.json: its parameters, one row per configuration (medians over the runs, with every
run's own numbers kept under "runs"), and a "skipped" line for anything it could not measure.
"""

import asyncio
import contextlib
import itertools
import os
import signal
import statistics
import time

from loadgen import Sender, percentile, projected_end, split, streams
from servers import (
    BareServer,
    bench_settings_env,
    find_lesson,
    layer_env,
    lesson_server,
    redis,
)

_rooms = itertools.count(1)
# Every server started, so that run.py can stop any a failure left behind.
STARTED = []


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


async def start(*servers, settle=0.0):
    """Start servers side by side (each takes seconds to import Django), then let them settle.

    No `migrate`: these consumers never touch the database.
    """
    STARTED.extend(servers)
    await asyncio.gather(*(asyncio.to_thread(s.start, migrate=False) for s in servers))
    # uvicorn's workers boot after the socket is bound; let them all reach accept().
    await asyncio.sleep(settle)
    return servers[0] if len(servers) == 1 else servers


def stop(*servers):
    for server in servers:
        server.stop()


def kill(server):
    """Stop a server now, abandoning queued work (our own process group, by its id)."""
    if server.process and server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(10)


def ms(seconds):
    return None if seconds is None else seconds * 1000


# --- 1. gs2 vs gs3: concurrent count streams ---------------------------------------------------

STREAM_SERIES = [("gs2", "/ws/sc/", "gs2 SyncConsumer (time.sleep)"),
                 ("gs3", "/ws/ac/", "gs3 AsyncConsumer (asyncio.sleep)")]


async def run_streams(cfg, clients, say):
    # One client process is plenty: at most 100 sockets and 1,100 small frames a second.
    p = cfg["streams"]
    section = {"params": {**p, "runs": cfg["runs"]}, "series": {}, "skipped": []}
    present = []
    for lesson, ws_path, label in STREAM_SERIES:
        path = find_lesson(lesson)
        if path is None:
            section["skipped"].append(f"{lesson} not present: its streams were not measured")
            say(section["skipped"][-1])
        else:
            present.append((lesson, ws_path, label, lesson_server(path)))
    if not present:
        return section
    await start(*(server for *_, server in present))
    spare = None
    try:
        for lesson, ws_path, label, server in present:
            rows = []
            for n in p["clients"]:
                runs = []
                for _ in range(cfg["runs"]):
                    result = await streams(server.ws(ws_path), n, p["count"], p["interval"],
                                           p["time_limit"])
                    runs.append(result)
                    say(f"  {lesson} C={n}: " + (
                        f"stopped after {result['finished']}/{n} streams, at "
                        f"{result['elapsed_s']:.1f} s"
                        if result["capped"] else f"{result['wall_s'] or 0:.2f} s"))
                    if result["capped"] or result["errors"]:
                        # Handlers still queued on this server would run for minutes: switch to
                        # a fresh one, and start the next one while the next run goes on.
                        kill(server)
                        server = await (spare or start(lesson_server(server.path)))
                        spare = asyncio.create_task(start(lesson_server(server.path)))
                rows.append(_streams_row(n, runs))
            section["series"][lesson] = {"label": label, "path": ws_path, "rows": rows}
            if spare:
                stop(await spare)
                spare = None
    finally:
        if spare:
            # Let it finish starting: a server cancelled halfway could outlive the benchmark.
            with contextlib.suppress(Exception):
                await spare
        stop(*STARTED)
    return section


def _streams_row(clients, runs):
    capped = [r for r in runs if r["capped"]]
    walls = [r["wall_s"] for r in runs]
    return {
        "clients": clients,
        "wall_s": median(walls) if all(w is not None for w in walls) else None,
        "capped": bool(capped),
        "finished_in_cap": median([r["finished"] for r in capped]) if capped else None,
        # Streams that queue up end one after another at a steady pace: where the last of C
        # would have ended, from the pace of those that ended before the cap.
        "projected_s": median([projected_end(r["ends_s"], clients) for r in capped])
        if capped else None,
        "errors": sorted({e for r in runs for e in r["errors"]})[:3],
        "client_cpu": median([r["client_cpu"] for r in runs]),
        "runs": runs,
    }


# --- 2. echo: generic consumers against the bare ASGI app --------------------------------------

async def _echo_once(clients, processes, server, ws_path, p):
    await clients.call("open", [{"url": server.ws(ws_path), "n": n, "origin": server.origin}
                                for n in split(p["connections"], processes)])
    start_at = time.monotonic() + 0.3
    answers = await clients.call("echo", [{
        "start_at": start_at, "duration": p["duration"], "payload": "x" * p["payload"],
        "max_messages": p["max_messages"]}] * processes, timeout=p["duration"] + 60)
    await clients.call("close", [{}] * processes)
    elapsed = max(a["elapsed_s"] for a in answers)
    rtts = [t for a in answers for t in a["rtts"]]
    return {
        "throughput": sum(a["round_trips"] for a in answers) / elapsed,
        "p50_ms": ms(percentile(rtts, 50)),
        "p99_ms": ms(percentile(rtts, 99)),
        "client_cpu": [a["cpu_s"] / a["elapsed_s"] for a in answers],
    }


STOCK = "stock-dispatch"  # the experiment: gs7 served with BENCH_STOCK_DISPATCH=1


def _echo_targets(p):
    """(key, label, server: None for the bare app, else a lesson folder, websocket path)."""
    targets = [("bare", "bare ASGI echo (no Channels)", None, "/ws/echo/")]
    gs1, gs7 = find_lesson("gs1"), find_lesson("gs7")
    if gs1 and p["raw_consumers"]:
        targets += [("gs1-sc", "gs1 SyncConsumer (raw)", gs1, "/ws/sc/"),
                    ("gs1-ac", "gs1 AsyncConsumer (raw)", gs1, "/ws/ac/")]
    if gs7:
        targets += [("gs7-wsc", "gs7 WebsocketConsumer", gs7, "/ws/wsc/"),
                    ("gs7-awsc", "gs7 AsyncWebsocketConsumer", gs7, "/ws/awsc/")]
        if p["experiment"]:
            targets += [("gs7-awsc-stock", "experiment: gs7 AsyncWebsocketConsumer with "
                         "Channels' own dispatch() (the thread trip put back)", (gs7, STOCK),
                         "/ws/awsc/")]
    return targets


def _echo_server(kind, folder):
    if isinstance(folder, tuple):
        folder, _ = folder
        return lesson_server(folder, kind, workers=1,
                             env=bench_settings_env(folder, BENCH_STOCK_DISPATCH="1"))
    return lesson_server(folder, kind, workers=1)


async def run_echo(cfg, clients, say):
    p = cfg["echo"]
    section = {"params": {**p, "runs": cfg["runs"]}, "calibration": [], "servers": {},
               "skipped": []}
    if not find_lesson("gs7"):
        section["skipped"].append("gs7_generic_consumers not present: no WebsocketConsumer or "
                                  "AsyncWebsocketConsumer rows")
        say(section["skipped"][-1])
    targets = _echo_targets(p)
    servers = {}
    for kind in p["servers"]:
        for key, _, folder, _ in targets:
            if folder is None:
                servers[kind, key] = BareServer(kind)
            elif (kind, folder) not in servers:
                servers[kind, folder] = _echo_server(kind, folder)
    await start(*servers.values())
    try:
        # A first, unrecorded pass: the first messages after a start are slower everywhere.
        warmup = {**p, "duration": min(0.5, p["duration"])}
        for kind in p["servers"]:
            for key, _, folder, ws_path in targets:
                server = servers[kind, key if folder is None else folder]
                await _echo_once(clients, 1, server, ws_path, warmup)

        # Is one client process the bottleneck? The fastest server, with 1 and with 2 client
        # processes, alternating, so that both see the same moments of a noisy machine.
        bare = servers[p["servers"][-1], "bare"]
        calibration = {n: [] for n in p["calibrate"]}
        for _ in range(cfg["runs"]):
            for n in p["calibrate"]:
                calibration[n].append(await _echo_once(clients, n, bare, "/ws/echo/", p))
        for n, measured in calibration.items():
            section["calibration"].append({
                "processes": n, "server": bare.server,
                "throughput": median([r["throughput"] for r in measured]),
                "p50_ms": median([r["p50_ms"] for r in measured]),
                "client_cpu": [median(cpu) for cpu in zip(*(r["client_cpu"] for r in measured),
                                                          strict=True)],
                "runs": measured})
            c = section["calibration"][-1]
            say(f"  calibration on {bare.server}, {n} client process(es): "
                f"{c['throughput']:.0f} round trips/s, client CPU "
                + ", ".join(f"{x:.0%}" for x in c["client_cpu"]))
        one = section["calibration"][0]
        best = max(section["calibration"], key=lambda c: c["throughput"])
        # Another process only if it measurably helps: each one also takes CPU from the server.
        processes = best["processes"] if best["throughput"] > 1.1 * one["throughput"] else 1
        section["client_processes"] = processes

        runs = {(kind, key): [] for kind in p["servers"] for key, *_ in targets}
        # Round-robin over everything, so a noisy minute on the machine hits every row alike.
        for _ in range(cfg["runs"]):
            for kind in p["servers"]:
                for key, _, folder, ws_path in targets:
                    server = servers[kind, key if folder is None else folder]
                    result = await _echo_once(clients, processes, server, ws_path, p)
                    runs[kind, key].append(result)
                    say(f"  {kind} {key}: {result['throughput']:.0f} round trips/s, "
                        f"p50 {result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms")
    finally:
        stop(*servers.values())
    for kind in p["servers"]:
        rows = []
        for key, label, _, ws_path in targets:
            measured = runs[kind, key]
            rows.append({
                "key": key, "label": label, "path": ws_path,
                "throughput": median([r["throughput"] for r in measured]),
                "p50_ms": median([r["p50_ms"] for r in measured]),
                "p99_ms": median([r["p99_ms"] for r in measured]),
                "client_cpu": median([max(r["client_cpu"]) for r in measured]),
                "runs": measured,
            })
        floor = rows[0]["throughput"]
        for row in rows:
            row["ratio_to_bare"] = row["throughput"] / floor if floor else None
        section["servers"][kind] = rows
    return section


# --- 3 and 4. fan-out in a gs4 room ------------------------------------------------------------

async def fanout(clients, server, receivers, cfg, say, label, run_count):
    """One sender and `receivers` sockets in a new room: per run, one message (latency, loss),
    then a burst (deliveries per second, loss)."""
    p = cfg["fanout"]
    room = f"bench-{os.getpid()}-{next(_rooms)}"
    url = server.ws(f"/ws/chat/{room}/")
    processes = min(len(clients), p["processes"] if receivers >= p["processes_from"] else 1)
    # About the same number of deliveries per burst for any room size; a room of 10 gets fewer
    # messages than a channel's capacity (100), so that no layer drops any for being full.
    burst = max(p["burst_min"], min(p["burst_max"], p["burst_deliveries"] // receivers))
    runs = []
    opened = time.monotonic()
    answers = await clients.call(
        "listen", [{"url": url, "n": n, "origin": server.origin}
                   for n in split(receivers, processes)], timeout=180)
    connect_s = time.monotonic() - opened
    per_process = {}
    for answer in answers:
        for prefix, count in answer["processes"].items():
            per_process[prefix] = per_process.get(prefix, 0) + count
    try:
        async with Sender(url, server.origin) as sender:
            for run in range(run_count):
                await asyncio.sleep(0.1)
                tag = f"one{run}"
                await sender.send(tag, 0)
                got = await clients.call("collect", [{"tag": tag, "per_socket": 1,
                                                      "timeout": p["timeout"]}] * processes)
                latencies = [t for a in got for t in a["latencies"]]
                one = {"received": sum(a["received"] for a in got),
                       "lost": receivers - sum(a["received"] for a in got),
                       "p50_ms": ms(percentile(latencies, 50)),
                       "p99_ms": ms(percentile(latencies, 99)),
                       "max_ms": ms(max(latencies, default=None))}

                await asyncio.sleep(0.1)
                cpu_before = await clients.call("cpu", [{}] * processes)
                tag = f"burst{run}"
                sent = time.monotonic()
                for seq in range(burst):
                    await sender.send(tag, seq)
                got = await clients.call("collect", [{"tag": tag, "per_socket": burst,
                                                      "timeout": p["timeout"]}] * processes)
                received = sum(a["received"] for a in got)
                last = max((a["last_arrival"] for a in got if a["last_arrival"]), default=None)
                span = (last - sent) if last else None
                burst_run = {"messages": burst, "received": received,
                             "lost": receivers * burst - received, "span_s": span,
                             "deliveries_per_s": received / span if span else None,
                             "client_cpu": max((a["cpu_total_s"] - before) / span
                                               for a, before in zip(got, cpu_before, strict=True))
                             if span else None}
                runs.append({"one": one, "burst": burst_run})
                say(f"  {label} C={receivers}: one message p50 {one['p50_ms'] or 0:.0f} ms, "
                    f"p99 {one['p99_ms'] or 0:.0f} ms, lost {one['lost']}; burst of "
                    f"{burst}: {burst_run['deliveries_per_s'] or 0:.0f} deliveries/s, "
                    f"lost {burst_run['lost']}")
    finally:
        await clients.call("close", [{}] * processes)
    return {
        "receivers": receivers,
        "client_processes": processes,
        "burst_messages": burst,
        "connect_s": connect_s,
        "sockets_per_server_process": None if "?" in per_process
        else sorted(per_process.values(), reverse=True),
        "p50_ms": median([r["one"]["p50_ms"] for r in runs]),
        "p99_ms": median([r["one"]["p99_ms"] for r in runs]),
        "lost": sum(r["one"]["lost"] for r in runs),
        "deliveries_per_s": median([r["burst"]["deliveries_per_s"] for r in runs]),
        "burst_lost": sum(r["burst"]["lost"] for r in runs),
        "client_cpu": median([r["burst"]["client_cpu"] for r in runs]),
        "runs": runs,
    }


LAYERS = {"memory": "InMemoryChannelLayer", "redis": "RedisChannelLayer",
          "pubsub": "RedisPubSubChannelLayer"}


async def run_fanout(cfg, clients, say):
    p = cfg["fanout"]
    # A scenario may ask for more runs than the others: these are short and noisy.
    section = {"params": {"runs": cfg["runs"], **p}, "layers": {}, "skipped": []}
    runs = section["params"]["runs"]
    path = find_lesson("gs4")
    if path is None:
        section["skipped"].append("gs4_channel_layers not present: no fan-out measured")
        say(section["skipped"][-1])
        return section
    service = redis()
    servers = {}
    for layer in p["layers"]:
        if layer != "memory" and not service.ok:
            section["skipped"].append(f"{LAYERS[layer]}: no Redis here ({service.how})")
            say(section["skipped"][-1])
        else:
            servers[layer] = lesson_server(path, env=layer_env(path, layer, service.where))
    await start(*servers.values())
    try:
        for layer, server in servers.items():
            rows = [await fanout(clients, server, c, cfg, say, f"daphne {layer}", runs)
                    for c in p["receivers"]]
            section["layers"][layer] = {"label": LAYERS[layer], "rows": rows}
    finally:
        stop(*servers.values())
    # Experiments on the in-memory layer's largest room: which of Channels' steps cost what.
    section["experiments"] = []
    for label, switches in EXPERIMENTS if p["experiments"] else []:
        server = await start(lesson_server(path, env=layer_env(path, "memory", **switches)))
        try:
            row = await fanout(clients, server, max(p["receivers"]), cfg, say, label, runs)
        finally:
            stop(server)
        section["experiments"].append({"label": label, "rows": [row]})
    return section


EXPERIMENTS = [
    ("experiment: with Channels' own dispatch() (the thread trip put back)",
     {"BENCH_STOCK_DISPATCH": "1"}),
    ("experiment: without the expiry walk", {"BENCH_SKIP_EXPIRY_WALK": "1"}),
]


def _workers_configs(p, path, redis_url):
    """(key, server, workers, label, environment), measured one at a time in this order."""
    redis_env = layer_env(path, "redis", redis_url)
    configs = [
        # The baseline: `make gs4` as a learner runs it, with no REDIS_URL.
        ("make-gs4", "daphne", 1, "make gs4: Daphne, 1 process, InMemoryChannelLayer",
         layer_env(path, "memory")),
        ("make-gs4-redis", "daphne", 1, "make gs4 with REDIS_URL: Daphne, 1 process, "
         "RedisChannelLayer", redis_env),
    ]
    configs += [("workers", "uvicorn", w, f"make gs4-workers WORKERS={w}: uvicorn, "
                 "RedisChannelLayer", redis_env) for w in p["workers"]]
    if p["experiment"]:
        w = p["experiment"]
        configs += [
            ("experiment", "uvicorn", w, f"experiment: WORKERS={w} with Channels' own "
             "dispatch() (the thread trip put back)",
             layer_env(path, "redis", redis_url, BENCH_STOCK_DISPATCH="1")),
            ("pubsub", "uvicorn", w, f"another layer: WORKERS={w} on RedisPubSubChannelLayer",
             layer_env(path, "pubsub", redis_url)),
        ]
    return configs


async def run_workers(cfg, clients, say):
    p = cfg["workers"]
    section = {"params": {"runs": cfg["runs"], **p}, "servers": [], "skipped": []}
    runs = section["params"]["runs"]
    path = find_lesson("gs4")
    service = redis()
    if path is None or not service.ok:
        section["skipped"].append("gs4_channel_layers not present: no workers measured"
                                  if path is None else f"no Redis here ({service.how})")
        say(section["skipped"][-1])
        return section
    # One server at a time, so that each has the machine (and Redis) to itself.
    for key, kind, workers, label, env in _workers_configs(p, path, service.where):
        server = await start(lesson_server(path, kind, workers=workers, env=env),
                             settle=p["settle"] if workers > 1 else 0)
        try:
            rows = [await fanout(clients, server, c, cfg, say, f"{key} {kind} x{workers}",
                                 runs) for c in p["receivers"]]
        finally:
            stop(server)
        section["servers"].append({"key": key, "server": kind, "workers": workers,
                                   "label": label, "experiment": key != "workers"
                                   and not key.startswith("make-gs4"), "rows": rows})
    return section
