#!/usr/bin/python3
"""SSE fan-out latency: N clients follow the dashboard's live stream; for each `state` event (published by the
engine every cycle with its publication time in `at`) the delay until each client has it. Prints JSON."""
import json, socket, sys, threading, time

import http.client, urllib.parse
host, port, token, clients, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
c = http.client.HTTPConnection(host, port, timeout=10)
c.request("POST", "/login", body="token=" + urllib.parse.quote(token), headers={"Content-Type": "application/x-www-form-urlencoded"})
cookie = c.getresponse().getheader("Set-Cookie").split(";")[0]
c.close()
lat, lock, stop = [], threading.Lock(), time.time() + seconds

def follow():
    s = socket.create_connection((host, port))
    s.sendall(("GET /events/stream HTTP/1.1\r\nHost: %s:%d\r\nCookie: %s\r\n\r\n" % (host, port, cookie)).encode())
    f = s.makefile("rb")
    event = None
    while time.time() < stop:
        line = f.readline().decode(errors="replace").strip()
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event == "state":
            at = json.loads(line[6:]).get("at")
            if at:
                with lock:
                    lat.append(time.time() - float(at))
    s.close()

threads = [threading.Thread(target=follow, daemon=True) for _ in range(clients)]
for t in threads: t.start()
for t in threads: t.join(seconds + 5)
lat.sort()
pick = lambda q: lat[min(len(lat) - 1, int(q * (len(lat) - 1)))] * 1000 if lat else None
print(json.dumps({"clients": clients, "samples": len(lat), "p50_ms": pick(0.5), "p99_ms": pick(0.99), "max_ms": pick(1.0)}))
