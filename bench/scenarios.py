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
import tempfile
import time
from pathlib import Path

from loadgen import Sender, percentile, projected_end, split, streams
from servers import (
    BareServer,
    bench_settings_env,
    drop_database,
    find_lesson,
    layer_env,
    lesson_server,
    login_cookie,
    quiet,
    redis,
    scratch_database,
)

from testkit import services

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


def drop_scratch_databases():
    while SCRATCH_DATABASES:
        with contextlib.suppress(Exception):  # a leftover scratch database costs only disk
            drop_database(*SCRATCH_DATABASES.pop())


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


SHORTCUT = "shortcut"  # the experiment: gs7 served with BENCH_DISPATCH_SHORTCUT=1


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
            targets += [("gs7-awsc-shortcut", "experiment: gs7 AsyncWebsocketConsumer with "
                         "gs8's dispatch() shortcut (no thread trip)", (gs7, SHORTCUT),
                         "/ws/awsc/")]
    return targets


def _echo_server(kind, folder):
    if isinstance(folder, tuple):
        folder, _ = folder
        return lesson_server(folder, kind, workers=1,
                             env=bench_settings_env(folder, BENCH_DISPATCH_SHORTCUT="1"))
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


# --- 3 and 4. fan-out in a chat room: the teaching lessons (stock Channels) and gs8 (tuned) ----

class Chat:
    """A chat server to drive: its LessonServer, and what a client must bring (a session cookie
    for the chats behind AuthMiddlewareStack) or expect (a first frame naming its channel)."""

    def __init__(self, server, first_frame=True, auth=False, concurrency=50, open_timeout=20):
        self.server, self.first_frame, self.auth = server, first_frame, auth
        self.concurrency, self.open_timeout = concurrency, open_timeout
        self.cookie = None

    def prepare(self):
        """Before start(): the database and a logged-in user, for the chats that need them."""
        if self.auth:
            self.server.migrate()
            self.cookie = login_cookie(self.server.path, self.server.env)

    def start(self, migrate=False):
        self.server.start(migrate=False)
        return self

    def stop(self):
        self.server.stop()

    def client(self):
        return {"origin": self.server.origin, "cookie": self.cookie}


async def fanout(clients, chat, receivers, cfg, say, label, run_count):
    """One sender and `receivers` sockets in a new room: per run, one message (latency, loss),
    then a burst (deliveries per second, loss)."""
    p = cfg["fanout"]
    server = chat.server
    room = f"bench_{os.getpid()}_{next(_rooms)}"  # \w only: the tutorial's route
    url = server.ws(f"/ws/chat/{room}/")
    processes = min(len(clients), p["processes"] if receivers >= p["processes_from"] else 1)
    # About the same number of deliveries per burst for any room size; a room of 10 gets fewer
    # messages than a channel's capacity (100), so that no layer drops any for being full.
    burst = max(p["burst_min"], min(p["burst_max"], p["burst_deliveries"] // receivers))
    runs = []
    opened = time.monotonic()
    answers = await clients.call(
        "listen", [{"url": url, "n": n, "first_frame": chat.first_frame, **chat.client(),
                    "concurrency": chat.concurrency, "open_timeout": chat.open_timeout}
                   for n in split(receivers, processes)], timeout=900)
    connect_s = time.monotonic() - opened
    settle_s = await quiet(server)
    per_process = {}
    for answer in answers:
        for prefix, count in answer["processes"].items():
            per_process[prefix] = per_process.get(prefix, 0) + count
    try:
        async with Sender(url, first_frame=chat.first_frame, **chat.client()) as sender:
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
        "settle_s": settle_s,
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
# What each chat is and needs. "teaching": stock Channels, as the lessons teach; "gs8": tuned.
CHATS = {
    "tutorial": {"lesson": "gs4", "group": "teaching", "first_frame": False, "auth": False,
                 "switches": {"BENCH_TUTORIAL": "1"},
                 "label": "the tutorial's consumer (gs4's settings)"},
    "gs4": {"lesson": "gs4", "group": "teaching", "first_frame": True, "auth": False,
            "switches": {}, "label": "gs4 (stock Channels)"},
    "gs6": {"lesson": "gs6", "group": "teaching", "first_frame": True, "auth": True,
            "switches": {}, "label": "gs6 (stock: login, history, who is online)"},
    # gs8's flood control would refuse the one scripted sender's bursts: lifted, nothing else.
    "gs8": {"lesson": "gs8", "group": "gs8", "first_frame": True, "auth": True,
            "switches": {"BENCH_NO_FLOOD_LIMIT": "1"},
            "label": "gs8 (hardened and tuned)"},
}


def fanout_configs(p, redis_url):
    """Every fan-out row: (key, chat, layer, server kind, workers, label, extra switches)."""
    configs = []
    for chat in p["chats"]:
        for layer in p["layers"]:
            configs.append((f"{chat}-{layer}", chat, layer, "daphne", 1,
                            f"{CHATS[chat]['label']}, Daphne, {LAYERS[layer]}", {}))
    if "gs8" in p["chats"] and redis_url:
        # As the production stack serves it: uvicorn (one process here), on Redis.
        configs.append(("gs8-uvicorn-redis", "gs8", "redis", "uvicorn", GS8_WORKERS,
                        f"{CHATS['gs8']['label']}, uvicorn x{GS8_WORKERS}, {LAYERS['redis']}",
                        {}))
    return configs


# gs8 as one host of the production stack serves it (`make gs8-stack`: WORKERS=2).
GS8_WORKERS = 2
EXPERIMENTS = [
    # (key, chat, layer, server, label, switches): at the largest room only.
    ("gs8-stock-dispatch", "gs8", "redis", "uvicorn",
     "experiment: gs8, uvicorn x2, Redis, with Channels' own dispatch() (the shortcut taken "
     "out)",
     {"BENCH_STOCK_DISPATCH": "1"}),
    ("gs4-no-expiry-walk", "gs4", "memory", "daphne",
     "experiment: gs4, Daphne, in memory, without the layer's expiry walk",
     {"BENCH_SKIP_EXPIRY_WALK": "1"}),
]


# The scratch PostgreSQL databases made for this run, dropped by drop_scratch_databases().
SCRATCH_DATABASES = []


def make_chat(key, chat, layer, kind, workers, switches, redis_url, scratch):
    spec = CHATS[chat]
    path = find_lesson(spec["lesson"])
    env = layer_env(path, layer, redis_url, **spec["switches"], **switches)
    if spec["auth"]:
        # A database of its own, so that the users and sessions made here never reach the
        # lesson's: PostgreSQL where there is one, as production has (SQLite lets one process
        # write at a time, and the logged-in chats write on every join); else a SQLite file.
        postgres = services.find("postgres")
        if postgres.ok:
            env["DATABASE_URL"] = scratch_database(postgres.where,
                                                   f"bench_{key}_{os.getpid()}".replace("-", "_"))
            SCRATCH_DATABASES.append((postgres.where, env["DATABASE_URL"]))
        else:
            env["BENCH_DATABASE"] = str(scratch / f"{key}.sqlite3")
    # gs6 and gs8 tell the whole room about every socket that joins (who is online), and each
    # of its sockets asks the database who that is: a room's joins cost the square of its
    # size. Few handshakes at a time, with time to wait, or the servers time them out.
    return Chat(lesson_server(path, kind, workers=workers, env=env),
                first_frame=spec["first_frame"], auth=spec["auth"],
                concurrency=2 if spec["auth"] else 50, open_timeout=120 if spec["auth"] else 20)


async def start_chats(chats, settle=0.0):
    await asyncio.gather(*(asyncio.to_thread(c.prepare) for c in chats))
    STARTED.extend(c.server for c in chats)
    await asyncio.gather(*(asyncio.to_thread(c.start) for c in chats))
    await asyncio.sleep(settle)


def measured_at(p, key, chat, experiments, receivers):
    """Whether row `key` is measured with a room of `receivers`.

    gs6 and gs8 fill a room slowly (every join makes each socket of the room ask the database
    who is online: a room of C costs about C * C / 2 queries, minutes for 1000), so they stop
    at p["auth_max"], except the rows in p["auth_full"]. Experiments run at one size only."""
    largest = max(p["receivers"])
    if key in experiments:
        return receivers == (min(largest, p["auth_max"]) if chat.auth else largest)
    return not chat.auth or receivers <= p["auth_max"] or key in p["auth_full"]


async def run_fanout(cfg, clients, say):
    p = cfg["fanout"]
    # A scenario may ask for more runs than the others: these are short and noisy.
    section = {"params": {"runs": cfg["runs"], **p}, "rows": [], "skipped": []}
    runs = section["params"]["runs"]
    service = redis()
    redis_url = service.where if service.ok else None
    wanted = []
    for config in fanout_configs(p, redis_url):
        key, chat, layer = config[:3]
        if find_lesson(CHATS[chat]["lesson"]) is None:
            reason = f"{CHATS[chat]['lesson']} not present: {key} not measured"
        elif layer != "memory" and not redis_url:
            reason = f"{key}: no Redis here ({service.how})"
        else:
            wanted.append(config)
            continue
        if reason not in section["skipped"]:
            section["skipped"].append(reason)
            say(reason)
    experiments = [e for e in EXPERIMENTS if p["experiments"]
                   and find_lesson(CHATS[e[1]]["lesson"]) and (e[2] == "memory" or redis_url)]
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        chats = {}
        for key, chat, layer, kind, workers, _, switches in wanted:
            chats[key] = make_chat(key, chat, layer, kind, workers, switches, redis_url,
                                   Path(scratch))
        for key, chat, layer, kind, _, switches in experiments:
            # Side by side with the row it changes one thing of: the same number of processes.
            workers = GS8_WORKERS if chat == "gs8" and kind == "uvicorn" else 1
            chats[key] = make_chat(key, chat, layer, kind, workers, switches, redis_url,
                                   Path(scratch))
        failed = []
        for key, chat in chats.items():
            try:
                # uvicorn's workers boot after the socket is bound: let them all accept.
                await start_chats([chat], settle=3 if (chat.server.workers or 1) > 1 else 0)
            except Exception as error:  # a lesson mid-rewrite must not lose the other rows
                failed.append(key)
                section["skipped"].append(f"{key} did not start: "
                                          f"{(str(error).splitlines() or [''])[0][:200]}")
                say(section["skipped"][-1])
        try:
            rows = {key: [] for key in chats if key not in failed}
            # Side by side: every chat at one room size, then the next size, so that a noisy
            # minute on the machine falls on every row alike.
            experiment_keys = {e[0] for e in experiments}
            for receivers in p["receivers"]:
                for key in [c[0] for c in wanted] + sorted(experiment_keys):
                    if key in failed or not measured_at(p, key, chats[key], experiment_keys,
                                                        receivers):
                        continue
                    try:
                        rows[key].append(await fanout(clients, chats[key], receivers, cfg, say,
                                                      key, runs))
                    except Exception as error:
                        section["skipped"].append(f"{key} at {receivers} receivers: "
                                                  f"{type(error).__name__}: {error}"[:300])
                        say(section["skipped"][-1])
        finally:
            stop(*(c.server for c in chats.values()))
            drop_scratch_databases()
    for key, chat, layer, kind, workers, label, _ in wanted:
        if rows.get(key):
            section["rows"].append({"key": key, "chat": chat, "group": CHATS[chat]["group"],
                                    "layer": layer, "server": kind, "workers": workers,
                                    "label": label, "rows": rows[key]})
    section["experiments"] = [{"key": key, "chat": chat, "layer": layer, "server": kind,
                               "label": label, "rows": rows[key]}
                              for key, chat, layer, kind, label, _ in experiments
                              if rows.get(key)]
    return section


# --- 4. workers: what more processes buy ---------------------------------------------------------

def _workers_configs(p, redis_url):
    """(key, chat, server, workers, label, layer), measured one at a time in this order."""
    configs = [
        # The baseline: `make gs4` as a learner runs it, with no REDIS_URL.
        ("make-gs4", "gs4", "daphne", 1, "make gs4: Daphne, 1 process, InMemoryChannelLayer",
         "memory"),
        ("make-gs4-redis", "gs4", "daphne", 1, "make gs4 with REDIS_URL: Daphne, 1 process, "
         "RedisChannelLayer", "redis"),
    ]
    configs += [("workers", "gs4", "uvicorn", w, f"make gs4-workers WORKERS={w}: uvicorn, "
                 "RedisChannelLayer", "redis") for w in p["workers"]]
    if p.get("gs8"):
        w = p["gs8"]
        configs.append(("gs8-workers", "gs8", "uvicorn", w, f"gs8, uvicorn WORKERS={w}, "
                        "RedisChannelLayer (one host of the production stack)", "redis"))
    return configs


async def run_workers(cfg, clients, say):
    p = cfg["workers"]
    section = {"params": {"runs": cfg["runs"], **p}, "servers": [], "skipped": []}
    runs = section["params"]["runs"]
    service = redis()
    if find_lesson("gs4") is None or not service.ok:
        section["skipped"].append("gs4_channel_layers not present: no workers measured"
                                  if find_lesson("gs4") is None
                                  else f"no Redis here ({service.how})")
        say(section["skipped"][-1])
        return section
    # One server at a time, so that each has the machine (and Redis) to itself.
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        for key, chat, kind, workers, label, layer in _workers_configs(p, service.where):
            if find_lesson(CHATS[chat]["lesson"]) is None:
                section["skipped"].append(f"{CHATS[chat]['lesson']} not present: {key}")
                continue
            server = make_chat(f"{key}{workers}", chat, layer, kind, workers, {},
                               service.where, Path(scratch))
            try:
                await start_chats([server], settle=p["settle"] if workers > 1 else 0)
                rows = [await fanout(clients, server, c, cfg, say, f"{key} {kind} x{workers}",
                                     runs) for c in p["receivers"]]
            except Exception as error:
                section["skipped"].append(f"{key} x{workers}: {type(error).__name__}: "
                                          f"{error}"[:300])
                say(section["skipped"][-1])
                continue
            finally:
                server.stop()
                drop_scratch_databases()
            section["servers"].append({"key": key, "chat": chat, "server": kind,
                                       "workers": workers, "label": label, "rows": rows})
    return section
