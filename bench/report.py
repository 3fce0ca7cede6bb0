"""results.json -> the markdown tables and PNG charts that docs/benchmarks.md includes.

Every number on the benchmarks page comes from here, computed from a run; nothing is typed in.
The fragments link their charts as bench/<name>.png: they are included into docs/benchmarks.md,
and links resolve from that page; streams-table.md has no chart, for the lesson pages.
"""

import textwrap

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt  # noqa: E402

TARGET_STREAMS = 1.5
TARGET_ECHO_RATIO = 0.30
TARGET_P99_MS = 400
TARGET_WORKERS_SPEEDUP = 3.0
MET, MISSED, NOT_MEASURED = "met", "missed", "not measured"


def fmt(value, digits=0, unit=""):
    if value is None:
        return "–"
    return f"{value:,.{digits}f}{unit}"


def _section(results, name):
    return results.get("scenarios", {}).get(name) or {}


def _row(rows, key, value):
    return next((r for r in rows if r.get(key) == value), None)


def _config(configs, key):
    """A workers configuration by its key: "make-gs4", "make-gs4-redis", "workers"..."""
    return next((c for c in configs if c.get("key") == key), None)


def _two_workers(configs):
    """`make gs4-workers` with WORKERS=2: the configuration the workers target is about."""
    return next((c for c in configs if c.get("key") == "workers" and c["workers"] == 2), None)


# --- targets -----------------------------------------------------------------------------------

def targets(results):
    """Each target of issue 8, with the measured value and met / missed / not measured."""
    out = []

    def add(target, status, value=None, text="", why=""):
        out.append({"target": target, "status": status, "value": value,
                    "measured_text": text or why, "why": why})

    # 1. gs3: 100 concurrent streams within 1.5x one stream's time.
    name = f"gs3 finishes 100 concurrent streams within {TARGET_STREAMS}x one stream's time"
    rows = _section(results, "streams").get("series", {}).get("gs3", {}).get("rows", [])
    one, hundred = _row(rows, "clients", 1), _row(rows, "clients", 100)
    if one and hundred and one["wall_s"] and hundred["wall_s"]:
        ratio = hundred["wall_s"] / one["wall_s"]
        add(name, MET if ratio <= TARGET_STREAMS else MISSED, ratio,
            f"{ratio:.2f}x ({hundred['wall_s']:.2f} s for 100, {one['wall_s']:.2f} s for 1)")
    elif one and hundred:
        add(name, MISSED, None, "the 100 streams did not all finish")
    else:
        add(name, NOT_MEASURED, why="gs3 at 1 and 100 streams not in this run")

    # 2. AsyncWebsocketConsumer on uvicorn: at least 0.30 of the bare app; Daphne's ratio too.
    name = (f"gs7 AsyncWebsocketConsumer echo on uvicorn keeps at least {TARGET_ECHO_RATIO:.2f} "
            "of the bare ASGI app's throughput")
    servers = _section(results, "echo").get("servers", {})
    uvi = _row(servers.get("uvicorn", []), "key", "gs7-awsc")
    dap = _row(servers.get("daphne", []), "key", "gs7-awsc")
    if uvi and uvi.get("ratio_to_bare") is not None:
        ratio = uvi["ratio_to_bare"]
        text = f"{ratio:.2f} on uvicorn"
        if dap and dap.get("ratio_to_bare") is not None:
            text += f" (Daphne: {dap['ratio_to_bare']:.2f})"
        add(name, MET if ratio >= TARGET_ECHO_RATIO else MISSED, ratio, text)
    else:
        add(name, NOT_MEASURED, why="gs7's /ws/awsc/ not measured in this run")

    # 3. In-memory layer: one message to 1000 receivers, nothing lost, p99 under 400 ms.
    name = (f"gs4 on InMemoryChannelLayer delivers one message to 1000 receivers, nothing lost, "
            f"p99 under {TARGET_P99_MS} ms")
    layer = _section(results, "fanout").get("layers", {}).get("memory", {})
    row = _row(layer.get("rows", []), "receivers", 1000)
    if row and row["p99_ms"] is not None:
        ok = row["lost"] == 0 and row["p99_ms"] < TARGET_P99_MS
        add(name, MET if ok else MISSED, row["p99_ms"],
            f"p99 {row['p99_ms']:.0f} ms, {row['lost']} lost")
    else:
        add(name, NOT_MEASURED, why="gs4 with 1000 receivers not in this run")

    # 4. Two uvicorn workers on Redis: 3x the deliveries per second of `make gs4`.
    name = (f"make gs4-workers (WORKERS=2, Redis) delivers at least {TARGET_WORKERS_SPEEDUP:.0f}x "
            "the deliveries per second of single-process make gs4 at 1000 receivers, "
            "nothing lost")
    configs = _section(results, "workers").get("servers", [])
    base, on_redis = _config(configs, "make-gs4"), _config(configs, "make-gs4-redis")
    two = _two_workers(configs)
    base_row = base and _row(base["rows"], "receivers", 1000)
    two_row = two and _row(two["rows"], "receivers", 1000)
    if base_row and two_row and base_row["deliveries_per_s"] and two_row["deliveries_per_s"]:
        speedup = two_row["deliveries_per_s"] / base_row["deliveries_per_s"]
        lost = two_row["lost"] + two_row["burst_lost"]
        text = (f"{speedup:.2f}x ({two_row['deliveries_per_s']:,.0f} vs "
                f"{base_row['deliveries_per_s']:,.0f} deliveries/s), {lost} lost")
        redis_row = on_redis and _row(on_redis["rows"], "receivers", 1000)
        if redis_row and redis_row["deliveries_per_s"]:
            text += (f"; {two_row['deliveries_per_s'] / redis_row['deliveries_per_s']:.2f}x "
                     "make gs4 on the same Redis layer")
        add(name, MET if speedup >= TARGET_WORKERS_SPEEDUP and lost == 0 else MISSED, speedup,
            text)
    else:
        add(name, NOT_MEASURED, why="gs4 with 2 workers and 1000 receivers not in this run")
    return out


# --- markdown ----------------------------------------------------------------------------------

def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def skipped(section):
    lines = list(section.get("skipped", []))
    return "".join(f"\n!!! warning \"Not measured\"\n    {line}\n" for line in lines)


def machine_md(results):
    m, v = results["machine"], results["versions"]
    rows = [
        ("run", f"`make bench` ({results['mode']}), {results['generated']}, "
                f"commit `{results.get('commit') or '?'}`, {results['seconds']:.0f} s"),
        ("cores", m["cores"]), ("memory", f"{m['memory_gib']} GiB"), ("CPU", m["cpu"]),
        ("OS", m["os"]), ("Python", m["python"]), ("Redis server", m["redis_server"] or "–"),
        ("load average (1, 5, 15 min) before", ", ".join(f"{x:.2f}" for x in
                                                       m["load_average_before"])),
        ("load average after", ", ".join(f"{x:.2f}" for x in m.get("load_average_after", []))),
        ("lessons present", ", ".join(f"`{name}`" for name in results["lessons"])),
    ]
    rows += [(f"`{name}`", version or "not installed") for name, version in v.items()]
    return table(["", "this run"], rows)


def streams_md(results, chart=True):
    s = _section(results, "streams")
    if "params" not in s:
        return skipped(s) or "Not measured in this run.\n"
    p = s["params"]
    series = s.get("series", {})
    header = ["concurrent streams"] + [f"{series[k]['label']}" for k in series]
    clients = sorted({r["clients"] for k in series for r in series[k]["rows"]})

    def cell(row):
        if row is None:
            return "–"
        if row["capped"]:
            return (f"stopped after {fmt(row['finished_in_cap'])} of {row['clients']}; at their "
                    f"pace, ≈ {fmt(row['projected_s'])} s")
        if row["errors"]:
            return "errors: " + "; ".join(row["errors"])
        return fmt(row["wall_s"], 2, " s")

    rows = [[c] + [cell(_row(series[k]["rows"], "clients", c)) for k in series] for c in clients]
    text = (f"Wall time until the last of C streams ends (`{{\"count\": {p['count']}, "
            f"\"interval\": {p['interval']}}}` on every socket at once), median of {p['runs']} "
            f"run(s). A run stops at {p['time_limit']} s, or sooner once the pace of the streams "
            "that have ended shows that the others cannot end by then; that pace gives the "
            "projection (≈).\n\n")
    text += table(header, rows) + skipped(s)
    if series and chart:
        text += "\n![Wall time against concurrent streams](bench/streams.png)\n"
    return text


def echo_md(results):
    s = _section(results, "echo")
    if "params" not in s:
        return skipped(s) or "Not measured in this run.\n"
    p = s["params"]
    text = (f"{p['connections']} sockets, each sending a {p['payload']}-character frame and "
            f"waiting for it to come back, for {p['duration']} s; median of {p['runs']} run(s). "
            "Ratio: this row's round trips per second over the bare app's on the same server.\n\n")
    for kind, rows in s.get("servers", {}).items():
        name = "Daphne" if kind == "daphne" else "uvicorn (one process)"
        text += f"**{name}**\n\n" + table(
            ["app", "round trips/s", "ratio to bare", "p50", "p99", "busiest client process"],
            [[r["label"], fmt(r["throughput"]), fmt(r["ratio_to_bare"], 2),
              fmt(r["p50_ms"], 2, " ms"), fmt(r["p99_ms"], 2, " ms"),
              fmt(100 * r["client_cpu"], 0, "% CPU")] for r in rows]) + "\n"
    text += skipped(s)
    if s.get("servers"):
        text += "\n![Echo round trips per second](bench/echo.png)\n"
    return text


def calibration_md(results):
    s = _section(results, "echo")
    if not s.get("calibration"):
        return "Not measured in this run.\n"
    rows = [[c["processes"], fmt(c["throughput"]), fmt(c["p50_ms"], 2, " ms"),
             ", ".join(fmt(100 * x, 0, "%") for x in c["client_cpu"])]
            for c in s["calibration"]]
    busiest = max(x for c in s["calibration"] for x in c["client_cpu"])
    verdict = ("so no client process came near a full core: the servers, not the load "
               "generator, set the numbers below" if busiest < 0.8 else
               "so a client process came near a full core: on this machine the load generator "
               "limits the fastest rows")
    return (table(["client processes", "round trips/s (bare echo, uvicorn)", "p50",
                   "CPU of each client process"], rows)
            + f"\nThe echo scenario used **{s['client_processes']}** client process(es). The "
            f"busiest client process used {busiest:.0%} of a core against the fastest server, "
            f"{verdict}."
            + (" Two still got more done than one: each client's own event loop adds its time to "
               "every round trip, even below a full core." if s["client_processes"] > 1 else "")
            + "\n")


def _fanout_rows(rows):
    return [[r["receivers"], fmt(r["p50_ms"], 1, " ms"), fmt(r["p99_ms"], 1, " ms"), r["lost"],
             r.get("burst_messages", "–"), fmt(r["deliveries_per_s"]), r["burst_lost"],
             f"{r['client_processes']}, busiest at {fmt(100 * (r['client_cpu'] or 0))}% CPU",
             fmt(r["connect_s"], 2, " s")] for r in rows]


FANOUT_HEADER = ["receivers", "one message: p50", "p99", "lost", "burst: messages",
                 "deliveries/s", "lost", "client processes", "time to connect them all"]


def fanout_md(results):
    s = _section(results, "fanout")
    if "params" not in s:
        return skipped(s) or "Not measured in this run.\n"
    p = s["params"]
    text = (f"Served by `make gs4` (Daphne's runserver, one process). One sender and C receivers "
            f"in one room. Per run: one message (latency from the sender's `send` to each "
            f"receiver's frame; p50/p99 over the receivers, median of {p['runs']} run(s); lost: "
            f"not there after {p['timeout']} s, summed over the runs), then a burst of "
            f"messages back to back, about {p['burst_deliveries']:,} deliveries in all "
            f"(between {p['burst_min']} and {p['burst_max']} messages; deliveries per second "
            "until the last one lands).\n\n")
    for layer in s.get("layers", {}).values():
        text += f"**{layer['label']}**\n\n" + table(FANOUT_HEADER,
                                                     _fanout_rows(layer["rows"])) + "\n"
    if s.get("experiments"):
        text += ("**Experiments: InMemoryChannelLayer, the largest room, with one step put back "
                 "or taken out** (not lessons: see section 2 and below)\n\n")
        text += table(["experiment"] + FANOUT_HEADER,
                      [[e["label"].removeprefix("experiment: ")] + row
                       for e in s["experiments"] for row in _fanout_rows(e["rows"])]) + "\n"
    text += skipped(s)
    if s.get("layers"):
        text += "\n![Fan-out latency and deliveries per second](bench/fanout.png)\n"
    return text


def workers_md(results):
    s = _section(results, "workers")
    if "params" not in s:
        return skipped(s) or "Not measured in this run.\n"
    configs = s.get("servers", [])
    bases = [_config(configs, "make-gs4"), _config(configs, "make-gs4-redis")]
    rows = []
    for c in configs:
        for r in c["rows"]:
            ratios = []
            for base in bases:
                b = base and _row(base["rows"], "receivers", r["receivers"])
                ratios.append(fmt(r["deliveries_per_s"] / b["deliveries_per_s"], 2, "x")
                              if b and b["deliveries_per_s"] and r["deliveries_per_s"] else "–")
            rows.append([c["label"], r["receivers"],
                         " / ".join(str(n) for n in r["sockets_per_server_process"])
                         if r["sockets_per_server_process"] else "not told by its channel names",
                         fmt(r["p50_ms"], 1, " ms"), fmt(r["p99_ms"], 1, " ms"),
                         r["lost"], fmt(r["deliveries_per_s"]), r["burst_lost"], *ratios])
    workers = ", ".join(str(w) for w in s["params"]["workers"])
    text = ("The fan-out above, served by `make gs4` (Daphne, one process: as it runs by "
            "default, on InMemoryChannelLayer, and with `REDIS_URL`) and by `make gs4-workers` "
            f"with {workers} uvicorn process(es) on RedisChannelLayer, one server at a time; "
            f"medians of {s['params']['runs']} runs. Sockets per server process: from each "
            "socket's channel name, which names the process that holds it.\n\n")
    text += table(["server", "receivers", "sockets per server process", "one message p50",
                   "p99", "lost", "burst: deliveries/s", "lost", "vs make gs4",
                   "vs make gs4 on Redis"], rows)
    text += skipped(s)
    if configs:
        text += "\n![Deliveries per second against workers](bench/workers.png)\n"
    return text


def dispatch_md(results):
    """The thread trip before every handler, with and without: for the gs4 and gs7 pages."""
    rows = []
    servers = _section(results, "echo").get("servers", {})
    for kind, name in (("uvicorn", "uvicorn"), ("daphne", "Daphne")):
        lesson = _row(servers.get(kind, []), "key", "gs7-awsc")
        stock = _row(servers.get(kind, []), "key", "gs7-awsc-stock")
        if lesson and stock:
            rows.append([f"gs7 `AsyncWebsocketConsumer` echo on {name}: round trips/s",
                         fmt(stock["throughput"]), fmt(lesson["throughput"]),
                         _times(lesson["throughput"], stock["throughput"])])
    fanout = _section(results, "fanout")
    lesson = _row(fanout.get("layers", {}).get("memory", {}).get("rows", []), "receivers", 1000)
    stock = next((e["rows"][0] for e in fanout.get("experiments", [])
                  if "own dispatch()" in e["label"]), None)
    if lesson and stock:
        rows.append(["gs4, a room of 1000, `make gs4` (in memory): one message, p99",
                     fmt(stock["p99_ms"], 0, " ms"), fmt(lesson["p99_ms"], 0, " ms"),
                     _times(stock["p99_ms"], lesson["p99_ms"], "less")])
        rows.append(["the same room: a burst, deliveries/s", fmt(stock["deliveries_per_s"]),
                     fmt(lesson["deliveries_per_s"]),
                     _times(lesson["deliveries_per_s"], stock["deliveries_per_s"])])
    configs = _section(results, "workers").get("servers", [])
    two = _two_workers(configs)
    stock_two = _config(configs, "experiment")
    if two and stock_two:
        a, b = _row(two["rows"], "receivers", 1000), _row(stock_two["rows"], "receivers", 1000)
        if a and b:
            rows.append(["gs4, a room of 1000, `make gs4-workers` WORKERS=2 (Redis): "
                         "deliveries/s", fmt(b["deliveries_per_s"]), fmt(a["deliveries_per_s"]),
                         _times(a["deliveries_per_s"], b["deliveries_per_s"])])
    if not rows:
        return "Not measured in this run.\n"
    return (table(["measured", "Channels' `dispatch()` (the trip)",
                   "the lesson's `dispatch()` (no trip)", ""], rows)
            + f"\nFrom `make bench`, {results.get('generated', '?')}, side by side on the "
              "machine described on the [benchmarks page](../benchmarks.md).\n")


def layers_md(results):
    """For the gs4 page: what the layer and the processes change, in a small and a big room."""
    fanout, rows = _section(results, "fanout"), []
    sizes = sorted({r["receivers"] for layer in fanout.get("layers", {}).values()
                    for r in layer["rows"]})
    if len(sizes) < 2:
        return "Not measured in this run.\n"
    small, big = sizes[0], sizes[-1]
    for layer in fanout.get("layers", {}).values():
        a, b = _row(layer["rows"], "receivers", small), _row(layer["rows"], "receivers", big)
        rows.append([f"`make gs4` (Daphne, 1 process), `{layer['label']}`",
                     fmt(a and a["p99_ms"], 1, " ms"), fmt(b and b["p99_ms"], 0, " ms"),
                     fmt(b and b["deliveries_per_s"])])
    configs = _section(results, "workers").get("servers", [])
    two = _two_workers(configs)
    b = two and _row(two["rows"], "receivers", big)
    if b:
        rows.append(["`make gs4-workers` WORKERS=2 (uvicorn), `RedisChannelLayer`", "–",
                     fmt(b["p99_ms"], 0, " ms"), fmt(b["deliveries_per_s"])])
    return (table(["served by, layer", f"room of {small}: one message, p99",
                   f"room of {big}: one message, p99", f"room of {big}: deliveries/s"], rows)
            + f"\nFrom `make bench`, {results.get('generated', '?')}; the full tables, the "
              "machine and what limits each row are on the [benchmarks page]"
              "(../benchmarks.md#3-fan-out-one-message-many-receivers). The PubSub row is "
              "gs4 served with the benchmark's settings, since the lesson has no switch for "
              "that layer.\n")


def _times(new, old, word="more"):
    if not new or not old:
        return "–"
    return f"{new / old:.1f}x {word}"


def targets_md(results):
    marks = {MET: "✅ met", MISSED: "❌ missed", NOT_MEASURED: "not measured"}
    rows = [[t["target"], t["measured_text"], marks[t["status"]]] for t in results["targets"]]
    return table(["target", "measured", ""], rows)


# --- charts ------------------------------------------------------------------------------------

def _save(fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def streams_png(results, path):
    s = _section(results, "streams")
    fig, ax = plt.subplots(figsize=(7, 4))
    for key, series in s.get("series", {}).items():
        rows = series["rows"]
        xs = [r["clients"] for r in rows]
        ys = [r["wall_s"] if r["wall_s"] is not None else r["projected_s"] for r in rows]
        line = ax.plot(xs, ys, marker="o", label=series["label"])[0]
        capped = [(r["clients"], r["projected_s"]) for r in rows if r["capped"]]
        if capped:
            ax.plot(*zip(*capped, strict=True), marker="o", linestyle="none",
                    markerfacecolor="white", color=line.get_color(),
                    label=f"{key}: projected from the pace of a stopped run")
    one = _row(s.get("series", {}).get("gs3", {}).get("rows", []), "clients", 1)
    if one and one["wall_s"]:
        ax.axhline(TARGET_STREAMS * one["wall_s"], color="grey", linestyle=":",
                   label=f"target: {TARGET_STREAMS}x one gs3 stream")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("concurrent streams (count 10, interval 0.1 s)")
    ax.set_ylabel("wall time until the last stream ends (s)")
    ax.grid(True, which="both", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    _save(fig, path)


def echo_png(results, path):
    servers = _section(results, "echo").get("servers", {})
    rows0 = next(iter(servers.values()), [])
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.75 * max(1, len(rows0))))
    height = 0.8 / max(1, len(servers))
    for i, (kind, rows) in enumerate(servers.items()):
        ys = [j + i * height for j in range(len(rows))]
        bars = ax.barh(ys, [r["throughput"] or 0 for r in rows], height,
                       label="Daphne" if kind == "daphne" else "uvicorn (one process)")
        for bar, r in zip(bars, rows, strict=True):
            if r["ratio_to_bare"] is not None:
                ax.annotate(f" {r['ratio_to_bare']:.2f}", (bar.get_width(),
                                                           bar.get_y() + bar.get_height() / 2),
                            va="center", fontsize=7)
    ax.set_yticks([j + height * (len(servers) - 1) / 2 for j in range(len(rows0))])
    ax.set_yticklabels([textwrap.fill(r["label"], 34) for r in rows0], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("round trips per second (the number after a bar: its ratio to the bare app)")
    if servers:
        ax.legend(fontsize=8, loc="lower right")
    ax.grid(True, axis="x", alpha=0.3)
    _save(fig, path)


def fanout_png(results, path):
    layers = _section(results, "fanout").get("layers", {})
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 4))
    for layer in layers.values():
        rows = layer["rows"]
        xs = [r["receivers"] for r in rows]
        left.plot(xs, [r["p99_ms"] for r in rows], marker="o", label=layer["label"])
        right.plot(xs, [r["deliveries_per_s"] for r in rows], marker="o", label=layer["label"])
    left.axhline(TARGET_P99_MS, color="grey", linestyle=":", label="target for in-memory")
    left.set_ylabel("one message: p99 latency (ms, log scale)")
    left.set_yscale("log")
    right.set_ylabel("burst: deliveries per second")
    for ax in (left, right):
        ax.set_xscale("log")
        ax.set_xlabel("receivers in the room")
        ax.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=7)
    _save(fig, path)


def workers_png(results, path):
    configs = _section(results, "workers").get("servers", [])
    fig, ax = plt.subplots(figsize=(8, 4))
    receivers = max((r["receivers"] for c in configs for r in c["rows"]), default=None)
    short = {"make-gs4": "make gs4\n(in memory)", "make-gs4-redis": "make gs4\n(Redis)",
             "experiment": "experiment:\n{w} workers,\nthread trip",
             "pubsub": "{w} workers,\nPubSub"}
    names, values, colours = [], [], []
    for c in configs:
        row = _row(c["rows"], "receivers", receivers)
        names.append(short.get(c.get("key"), "{w} worker(s)").format(w=c["workers"]))
        values.append(row["deliveries_per_s"] if row else 0)
        colours.append("tab:blue" if c.get("key") == "workers" else "tab:grey")
    ax.bar(names, [v or 0 for v in values], color=colours)
    ax.tick_params(axis="x", labelsize=7)
    base = _config(configs, "make-gs4")
    base_row = base and _row(base["rows"], "receivers", receivers)
    if base_row and base_row["deliveries_per_s"]:
        ax.axhline(TARGET_WORKERS_SPEEDUP * base_row["deliveries_per_s"], color="grey",
                   linestyle=":", label=f"target for 2 workers: {TARGET_WORKERS_SPEEDUP:.0f}x "
                   "make gs4")
        ax.legend(fontsize=8)
    ax.set_ylabel(f"deliveries per second, {receivers} receivers")
    ax.grid(True, axis="y", alpha=0.3)
    _save(fig, path)


def write(results, out):
    if "targets" not in results:
        results["targets"] = targets(results)
    fragments = {"machine": machine_md, "streams": streams_md, "echo": echo_md,
                 "calibration": calibration_md, "fanout": fanout_md, "workers": workers_md,
                 "targets": targets_md, "dispatch": dispatch_md, "layers": layers_md,
                 # The same table without its chart, for the gs2 and gs3 pages (other folders).
                 "streams-table": lambda r: streams_md(r, chart=False)}
    for name, render in fragments.items():
        (out / f"{name}.md").write_text(
            "<!-- written by bench/report.py from results.json: edit the code, not this -->\n\n"
            + render(results))
    charts = {"streams": streams_png, "echo": echo_png, "fanout": fanout_png,
              "workers": workers_png}
    for name, draw in charts.items():
        draw(results, out / f"{name}.png")
