#!/usr/bin/env python3
"""A webhook receiver for benches/webhooks.sh: HTTP/1.1 keep-alive on
127.0.0.1:PORT (asyncio, no dependencies), answers 200 to every POST and
appends one line per request to OUT: arrival Unix ms, webhook-id, event type,
the event's call id and, for `call.created`, its time (`at_ms`); for the pop
(`call.ringing`) its `ring_at` in ms. Stops after STOP_AFTER seconds.

    webhook_receiver.py PORT OUT STOP_AFTER
"""
import asyncio
import datetime
import json
import sys
import time

PORT, OUT, STOP_AFTER = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
out = open(OUT, "w", buffering=1)  # line-buffered: the bench counts lines while it runs


def ms_of(iso):
    return int(datetime.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            now = int(time.time() * 1000)
            length, hook_id = 0, ""
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                k = k.strip().lower()
                if k == b"content-length":
                    length = int(v)
                elif k == b"webhook-id":
                    hook_id = v.strip().decode()
            body = json.loads(await reader.readexactly(length))
            data = body.get("data", {})
            kind = body.get("type", "")
            extra = ""
            if kind == "call.created":
                extra = str(data.get("at_ms", ""))
            elif kind == "call.ringing":
                extra = str(ms_of(data["ring_at"]))
            out.write(f"{now}\t{hook_id}\t{kind}\t{data.get('call_id', '')}\t{extra}\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", PORT, backlog=1024)
    async with server:
        await asyncio.sleep(STOP_AFTER)
    out.flush()


asyncio.run(main())
