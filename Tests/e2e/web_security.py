#!/usr/bin/python3
"""F34 and F35 against the running dashboard, over real HTTP (no browser needed).

F34: no session, a bad CSRF token, a cross-site POST, a wrong bearer token: 401/403 and nothing changed;
too many wrong logins: 429. F35: browsers that never read their live stream slow nobody: pages, /healthz
and a reading stream keep going. Prints one line per check; exits non-zero on the first failure.
"""
import argparse
import http.client
import json
import re
import socket
import subprocess
import sys
import time
import urllib.parse

p = argparse.ArgumentParser()
p.add_argument("--host", default="127.0.0.1")
p.add_argument("--port", type=int, required=True)
p.add_argument("--token", required=True)
p.add_argument("--wardenctl", required=True)
p.add_argument("--config", required=True)
args = p.parse_args()


def fail(why):
    print("FAIL: " + why, flush=True)
    sys.exit(1)


def request(method, path, body=None, headers=None):
    c = http.client.HTTPConnection(args.host, args.port, timeout=10)
    h = dict(headers or {})
    if body is not None:
        h.setdefault("Content-Type", "application/x-www-form-urlencoded")
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read().decode(errors="replace")
    c.close()
    return r.status, dict(r.getheaders()), data


def trading_state():
    r = subprocess.run([args.wardenctl, "--config", args.config, "status", "--json"], capture_output=True, text=True, timeout=30)
    return json.loads(r.stdout)["engine"]["trading_state"]


def expect(what, cond):
    if not cond:
        fail(what)
    print("ok: " + what, flush=True)


state0 = trading_state()
expect("/healthz is open", request("GET", "/healthz")[0] == 200)
expect("a page without a session is 401", request("GET", "/")[0] == 401)
expect("/metrics without a token is 401", request("GET", "/metrics")[0] == 401)
expect("/metrics with a wrong bearer is 401", request("GET", "/metrics", headers={"Authorization": "Bearer nope"})[0] == 401)
expect("/api/state with the bearer token is 200", request("GET", "/api/state", headers={"Authorization": "Bearer " + args.token})[0] == 200)
expect("the CSV export without a session is 401", request("GET", "/trades.csv")[0] == 401)
st, _, _ = request("POST", "/control/pause", "reason=x&confirmed=yes")
expect("a POST without a session is 401", st == 401)

status, headers, _ = request("POST", "/login", "token=" + urllib.parse.quote(args.token))
cookie = headers.get("Set-Cookie", "")
expect("login sets an HttpOnly SameSite=Strict cookie", status == 303 and "HttpOnly" in cookie and "SameSite=Strict" in cookie)
session = cookie.split(";")[0]
_, _, page = request("GET", "/", headers={"Cookie": session})
csrf = re.search(r'data-csrf="([0-9a-f]+)"', page).group(1)
expect("the token never appears in a page", args.token not in page)

st, _, _ = request("POST", "/control/pause", "reason=x&confirmed=yes", {"Cookie": session})
expect("a POST without a CSRF token is 403", st == 403)
st, _, _ = request("POST", "/control/pause", "reason=x&confirmed=yes&csrf=" + "0" * len(csrf), {"Cookie": session})
expect("a POST with a wrong CSRF token is 403", st == 403)
st, _, _ = request("POST", "/control/pause", "reason=x&confirmed=yes&csrf=" + csrf,
                   {"Cookie": session, "Origin": "http://evil.example"})
expect("a cross-site POST is 403", st == 403)
expect("nothing changed: the trading state is still " + state0, trading_state() == state0)

# F35: streams that are never read.
stuck = []
for _ in range(3):
    s = socket.create_connection((args.host, args.port))
    s.sendall(("GET /events/stream HTTP/1.1\r\nHost: %s:%d\r\nCookie: %s\r\n\r\n" % (args.host, args.port, session)).encode())
    stuck.append(s)  # never read
reader = http.client.HTTPConnection(args.host, args.port, timeout=30)
reader.request("GET", "/events/stream", headers={"Cookie": session})
live = reader.getresponse()
expect("a reading stream is served", live.status == 200)
deadline = time.time() + 60
seen = 0
slowest = 0.0
while time.time() < deadline and seen < 5:
    line = live.fp.readline().decode(errors="replace")
    if line.startswith("event: trades") or line.startswith("event: activity") or line.startswith("event: state"):
        seen += 1
    t = time.time()
    st, _, _ = request("GET", "/healthz")
    slowest = max(slowest, time.time() - t)
    if st != 200:
        fail("/healthz stopped answering while streams were stuck")
expect("the reading stream got live events while three others never read (%d)" % seen, seen >= 5)
expect("/healthz stayed quick (slowest %.3fs)" % slowest, slowest < 2)
for s in stuck:
    s.close()

# Login rate limit last: it locks this address out for a minute.
codes = [request("POST", "/login", "token=wrong")[0] for _ in range(7)]
expect("wrong logins are 401, then 429 after the limit: %s" % codes, codes[:5] == [401] * 5 and codes[-1] == 429)
print("PASS", flush=True)
