"""Live events against a running `ytempire up`: a WebSocket client (Python's `websockets`, an
independent implementation) authenticates with its first message, submits a video over HTTP and
waits for that video's progress, then pings.

    python3 ops/lib/ws_smoke.py http://127.0.0.1:8000 ACCESS_TOKEN
"""
import json
import sys
import time
import urllib.request

from websockets.sync.client import connect


def call(base, method, path, token, body=None):
    request = urllib.request.Request(base + "/api/v1" + path, method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def main(base, token):
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


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
