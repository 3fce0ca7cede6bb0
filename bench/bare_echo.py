"""A websocket echo written against bare ASGI: no Django, no Channels, nothing between the
server and these few lines. The benchmark serves it with the same servers as the lessons, so
its throughput is the floor any consumer on that server can reach.

    daphne bare_echo:application          uvicorn bare_echo:application   (from bench/)
"""


async def application(scope, receive, send):
    if scope["type"] == "lifespan":
        # uvicorn asks about startup and shutdown; there is nothing to set up.
        while True:
            event = await receive()
            if event["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif event["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "http":
        await receive()
        await send({"type": "http.response.start", "status": 404,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"a websocket echo: ws://.../ws/echo/"})
        return
    # A websocket: accept, then send every frame back as it came, until the client leaves.
    while True:
        event = await receive()
        if event["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif event["type"] == "websocket.receive":
            if event.get("text") is not None:
                await send({"type": "websocket.send", "text": event["text"]})
            else:
                await send({"type": "websocket.send", "bytes": event["bytes"]})
        elif event["type"] == "websocket.disconnect":
            return
