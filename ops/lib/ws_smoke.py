"""Live events against a running `ytempire up`: a WebSocket client (Python's `websockets`, an
independent implementation) authenticates with its first message, submits a video over HTTP and
waits for that video's progress, then pings. Then a peer on a raw socket that never answers the
server's pings is closed by the server (1001), and `/metrics` counts no open socket afterwards.

    python3 ops/lib/ws_smoke.py http://127.0.0.1:8000 ACCESS_TOKEN [PING_INTERVAL_SECONDS]

The server's ping interval (`YTEMPIRE_WS_PING_INTERVAL`, default 30) bounds how long the silent
peer waits.
"""
import base64
import json
import os
import socket as sockets
import struct
import sys
import time
import urllib.parse
import urllib.request

from websockets.sync.client import connect


def call(base, method, path, token, body=None):
    request = urllib.request.Request(base + "/api/v1" + path, method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def read_exactly(connection, count):
    data = b""
    while len(data) < count:
        chunk = connection.recv(count - len(data))
        if not chunk:
            raise EOFError("the server closed the connection without a close frame")
        data += chunk
    return data


def read_frame(connection):
    """One server frame (servers do not mask): (opcode, payload)."""
    first, second = read_exactly(connection, 2)
    length = second & 0x7F
    if length == 126:
        length = struct.unpack("!H", read_exactly(connection, 2))[0]
    elif length == 127:
        length = struct.unpack("!Q", read_exactly(connection, 8))[0]
    return first & 0x0F, read_exactly(connection, length)


def silent_peer(base, token, ping_interval):
    """Upgrades on a raw socket, reads everything, answers no ping: the server must hang up."""
    address = urllib.parse.urlsplit(base)
    connection = sockets.create_connection((address.hostname, address.port), timeout=3 * ping_interval + 10)
    key = base64.b64encode(os.urandom(16)).decode()
    connection.sendall((f"GET /api/v1/ws/silent-peer?token={urllib.parse.quote(token)} HTTP/1.1\r\n"
                        f"Host: {address.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += read_exactly(connection, 1)
    assert head.split(b"\r\n")[0].split(b" ")[1] == b"101", head
    pings = 0
    while True:
        opcode, payload = read_frame(connection)
        if opcode == 0x9:
            pings += 1
        elif opcode == 0x8:
            code = struct.unpack("!H", payload[:2])[0]
            break
    connection.close()
    assert pings >= 1, "the server closed the silent peer without pinging it"
    assert code == 1001, f"close code {code}, reason {payload[2:]!r}"
    return pings, payload[2:].decode()


def open_sockets(base):
    with urllib.request.urlopen(base + "/metrics", timeout=30) as response:
        for line in response.read().decode().splitlines():
            if line.startswith("ytempire_ws_sockets"):
                return float(line.split()[-1])
    return 0.0


def main(base, token, ping_interval):
    ws_url = base.replace("http://", "ws://") + "/api/v1/ws/smoke-check"
    with connect(ws_url, open_timeout=10) as socket:
        socket.send(json.dumps({"type": "auth", "token": token}))
        welcome = json.loads(socket.recv(timeout=10))
        assert welcome["type"] == "system.notification" and welcome["data"]["event"] == "connected", welcome
        channel = call(base, "POST", "/channels", token, {"name": "WebSocket smoke check"})["id"]
        video = call(base, "POST", "/videos/generate", token,
                     {"channel_id": channel, "title": "Live progress", "duration_target": 20})["video_id"]
        deadline = time.monotonic() + 60
        while True:
            message = json.loads(socket.recv(timeout=max(0.1, deadline - time.monotonic())))
            if message["type"] == "video.progress" and message["data"]["video_id"] == video:
                break
        socket.send(json.dumps({"type": "ping"}))
        while json.loads(socket.recv(timeout=10))["type"] != "pong":
            pass
    print(f"websocket: connected, saw video.progress of {video} at stage {message['data']['stage']}, ping answered")
    pings, reason = silent_peer(base, token, ping_interval)
    print(f"websocket: a peer that never answered {pings} ping(s) was closed with 1001 ({reason})")
    deadline = time.monotonic() + 10
    while open_sockets(base) != 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert open_sockets(base) == 0, f"{open_sockets(base)} sockets still counted open after both clients left"
    print("websocket: no socket left open")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 30)
