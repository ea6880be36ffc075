"""The stand-in for outboundIQ when nginx is absent, and always the slow one.

A minimal keep-alive HTTP/1.1 server answering ``{"message":"dial queued"}``, optionally after
a delay, counting what it answered (``GET /_count``). Imports nothing heavy, so it starts fast.

``python -m bench.sink --port P [--delay S]``
"""

from __future__ import annotations

import argparse
import asyncio


async def run_sink(port: int, delay: float) -> None:
    """A keep-alive HTTP/1.1 server that reads each request and answers after ``delay``."""
    answered = 0
    ok = b'{"message":"dial queued"}'

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal answered
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                if length:
                    await reader.readexactly(length)
                if head.startswith(b"GET /_count"):
                    body = str(answered).encode()
                else:
                    if delay:
                        await asyncio.sleep(delay)
                    answered += 1
                    body = ok
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
                )
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sink")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args(argv)
    import uvloop

    uvloop.run(run_sink(args.port, args.delay))


if __name__ == "__main__":
    main()
