"""A dev server for the proxy tests, standard library only: `python named_server.py NAME`.

It listens on 127.0.0.1:$PORT (what `styxy run` exports), answers every GET with
`NAME on PORT`, and turns a WebSocket upgrade into an echo of each text message (RFC 6455,
the handshake and unfragmented frames, which is all a browser's hot-reload socket needs).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import sys

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
NAME = sys.argv[1]
PORT = int(os.environ["PORT"])


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        writer.close()
        return
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:] if x)}
    if headers.get("upgrade", "").lower() == "websocket":
        await echo(reader, writer, headers["sec-websocket-key"])
        return
    body = f"{NAME} on {PORT}\nHost: {headers.get('host', '')}\n".encode()
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    writer.close()


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, key: str) -> None:
    accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
    writer.write(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept}\r\n\r\n".encode()
    )
    await writer.drain()
    while True:
        try:
            first, second = await reader.readexactly(2)
            size = second & 0x7F
            if size == 126:
                size = int.from_bytes(await reader.readexactly(2), "big")
            elif size == 127:
                size = int.from_bytes(await reader.readexactly(8), "big")
            mask = await reader.readexactly(4) if second & 0x80 else b"\0\0\0\0"
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(await reader.readexactly(size)))
        except asyncio.IncompleteReadError:
            break
        if first & 0x0F == 0x8:  # close
            break
        reply = f"{NAME} echoes {data.decode()}".encode()
        writer.write(bytes([0x81, len(reply)]) + reply)  # short replies only: < 126 bytes
        await writer.drain()
    writer.close()


async def main() -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", PORT)
    print(f"listening on {PORT}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
