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

# F58: bodies that used to crash the dashboard before any session check.
st, _, _ = request("POST", "/login", 'x"=1')
expect("a quoted field name (it crashed the dashboard) is read as a field: no token, 401 (%d)" % st, st == 401)
for body in ["a=%zz", "a=%ff%fe", "token=%"]:
    st, _, _ = request("POST", "/login", body)
    expect("a malformed form body %r is answered 400" % body, st == 400)
expect("the dashboard still answers after malformed bodies", request("GET", "/healthz")[0] == 200)
st, _, _ = request("POST", "/control/pause", 'reason="&confirmed=yes&csrf=' + csrf, {"Cookie": session})
expect("a quoted field in a signed-in POST is read, not a crash (%d)" % st, st in (303, 400, 403, 502))
expect("the dashboard still answers", request("GET", "/healthz")[0] == 200)

# DNS rebinding: a page served from another name that resolves to this address sends its own Host.
st, _, _ = request("GET", "/api/state", headers={"Host": "evil.example:%d" % args.port, "Authorization": "Bearer " + args.token})
expect("a request for another host name is refused (421)", st == 421)
expect("the loopback address is served", request("GET", "/healthz", headers={"Host": "127.0.0.1:%d" % args.port})[0] == 200)
expect("localhost is served", request("GET", "/healthz", headers={"Host": "localhost:%d" % args.port})[0] == 200)

# F59: half-open connections (no request, or a header never finished) neither stop the dashboard nor its pages.
held = []
for i in range(300):
    s = socket.create_connection((args.host, args.port))
    if i % 2:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # headers never finished
    held.append(s)
t = time.time()
expect("pages are served while 300 half-open connections are held", request("GET", "/healthz")[0] == 200)
expect("and quickly (%.2fs)" % (time.time() - t), time.time() - t < 5)
closed = 0
deadline = time.time() + 40
for s in held:
    s.settimeout(max(0.1, deadline - time.time()))
    try:
        if s.recv(1) == b"":
            closed += 1
    except OSError:
        closed += 1
    s.close()
expect("the idle timeout closed the half-open connections (%d of 300)" % closed, closed >= 290)

# A live stream ends when its session logs out.
stream = http.client.HTTPConnection(args.host, args.port, timeout=30)
stream.request("GET", "/events/stream", headers={"Cookie": session})
live = stream.getresponse()
expect("a stream for the session is served", live.status == 200)
st, _, _ = request("POST", "/logout", "csrf=" + csrf, {"Cookie": session})
expect("logout is accepted (%d)" % st, st == 303)
ended = False
t = time.time()
while time.time() - t < 20:
    line = live.fp.readline()
    if line == b"":
        ended = True
        break
expect("the stream ended with its session", ended)
expect("the old session no longer opens a stream", request("GET", "/events/stream", headers={"Cookie": session})[0] == 401)

# Wrong bearer tokens: refused, then limited per address; the right one still passes.
codes = [request("GET", "/api/state", headers={"Authorization": "Bearer wrong"})[0] for _ in range(32)]
expect("wrong bearer tokens are 401, then 429: %s" % codes[-3:], codes[0] == 401 and codes[-1] == 429)
expect("the right bearer token still passes", request("GET", "/api/state", headers={"Authorization": "Bearer " + args.token})[0] == 200)

# Login rate limit last: wrong tokens from this address are refused for a minute, the right one never is.
# (the quoted-field login above was the first wrong one of this minute: four more are 401, the sixth is 429)
codes = [request("POST", "/login", "token=wrong")[0] for _ in range(7)]
expect("wrong logins are 401, then 429 after the limit: %s" % codes, codes == [401] * 4 + [429] * 3)
status, headers, _ = request("POST", "/login", "token=" + urllib.parse.quote(args.token))
expect("the right token still logs in while wrong ones are limited (%d)" % status, status == 303)
print("PASS", flush=True)
