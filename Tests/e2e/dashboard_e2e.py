#!/usr/bin/python3
"""The dashboard in a real headless Chromium against the running stack on the fakes.

Run by DashboardStackTests.browser (which starts the stack): log in, see a new fill appear without
reloading, pause from the page and find the engine paused in `wardenctl status`, export the CSV and
compare its rows with the journal's count, kill the engine and see the banner, and save a screenshot
of each page. Exits non-zero with the reason on the first failure.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

p = argparse.ArgumentParser()
p.add_argument("--url", required=True)
p.add_argument("--token", required=True)
p.add_argument("--wardenctl", required=True)
p.add_argument("--config", required=True)
p.add_argument("--out", required=True)
args = p.parse_args()
os.makedirs(args.out, exist_ok=True)


def fail(why):
    print("FAIL: " + why, flush=True)
    try:
        driver.save_screenshot(os.path.join(args.out, "failure.png"))
    except Exception:
        pass
    sys.exit(1)


def wait_for(what, predicate, timeout=30.0, every=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception:
            pass
        time.sleep(every)
    fail("timed out after %ss waiting for: %s" % (timeout, what))


def status():
    r = subprocess.run([args.wardenctl, "--config", args.config, "status", "--json"], capture_output=True, text=True, timeout=30)
    return json.loads(r.stdout) if r.returncode == 0 else None


options = Options()
for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1400"):
    options.add_argument(a)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
try:
    # Log in.
    driver.get(args.url + "/")
    if "Log in" not in driver.title:
        fail("an unauthenticated visit should get the login page, got " + driver.title)
    driver.find_element(By.ID, "token").send_keys(args.token)
    driver.find_element(By.ID, "login").click()
    wait_for("the overview after login", lambda: driver.title == "Warden · Overview")
    driver.save_screenshot(os.path.join(args.out, "overview.png"))

    # A new fill appears without reloading (SSE).
    before = int(driver.find_element(By.ID, "fills").text)
    marker = driver.execute_script("window.__noReload = 1; return window.__noReload;")
    wait_for("a live fill", lambda: len(driver.find_elements(By.CSS_SELECTOR, "#live li")) > 0
             and int(driver.find_element(By.ID, "fills").text) > before, timeout=120)
    if driver.execute_script("return window.__noReload;") != marker:
        fail("the page was reloaded")
    print("live fill seen without reload", flush=True)

    # Pause from the page; confirm the dialog; the engine is paused in wardenctl status.
    driver.find_element(By.NAME, "reason").send_keys("paused from the browser test")
    driver.find_element(By.XPATH, "//button[text()='Pause']").click()
    wait_for("the confirmation dialog", lambda: driver.switch_to.alert).accept()
    wait_for("the flash after pausing", lambda: "pause" in driver.find_element(By.ID, "flash").text)
    s = wait_for("PAUSED in wardenctl status", lambda: (lambda st: st if st and st["engine"]["trading_state"] == "PAUSED" else None)(status()))
    reasons = [r for r in s["engine"]["reasons"] if r["code"] == "operator_pause"]
    if not reasons or reasons[0]["message"] != "paused from the browser test" or "dashboard session" not in reasons[0].get("author", ""):
        fail("the pause should carry the reason and the dashboard session as author: %r" % reasons)
    print("paused from the page: " + reasons[0]["author"], flush=True)

    # Every page, with a screenshot.
    for path, name in (("/trades", "trades"), ("/strategies", "strategies"), ("/orders", "orders"), ("/events", "events"), ("/alerts", "alerts"), ("/system", "system")):
        driver.get(args.url + path)
        wait_for(name + " page", lambda: driver.title.startswith("Warden · "))
        if name == "orders":
            # Issue 14: one strategy trades live on the CLOB fake; the Orders view says the venue's state.
            venue = driver.find_element(By.ID, "venue").text
            if "HEALTHY" not in venue or "mean_reversion" not in venue:
                fail("the Orders page should show the live venue healthy for mean_reversion: %r" % venue)
            driver.find_element(By.ID, "orders")
            print("orders page: " + venue[:120], flush=True)
        if name == "system":
            # The market WebSocket and the per-market table (issue 17): connected, with data age, every market listed.
            wait_for("the market WebSocket's connections table", lambda: "connected" in driver.find_element(By.ID, "feed-shards").text)
            rows = driver.find_elements(By.CSS_SELECTOR, "#markets tr")
            if len(rows) < 3 or "ws#" not in driver.find_element(By.ID, "markets").text:
                fail("the System page should list the markets with their feed: %r" % driver.find_element(By.ID, "markets").text[:300])
            print("system page: " + driver.find_element(By.ID, "feed-detail").text[:120], flush=True)
        driver.save_screenshot(os.path.join(args.out, name + ".png"))
    driver.get(args.url + "/trades")
    caption = driver.find_element(By.ID, "trades-caption").text
    if not caption.startswith("last "):
        fail("the trades page should say 'last N of M': " + caption)

    # CSV export with the browser's session: one row per fill in the journal (trading is paused, so it holds still).
    cookie = "; ".join("%s=%s" % (c["name"], c["value"]) for c in driver.get_cookies())
    req = urllib.request.Request(args.url + "/trades.csv", headers={"Cookie": cookie})
    rows = urllib.request.urlopen(req, timeout=30).read().decode().strip().split("\n")
    journal = status()["engine"]["fills_total"]
    if len(rows) - 1 != journal or any(r.startswith("#") for r in rows):
        fail("CSV has %d rows, the journal %d" % (len(rows) - 1, journal))
    print("CSV rows = journal fills = %d" % journal, flush=True)

    # Kill the engine: the open page shows the banner.
    driver.get(args.url + "/")
    wait_for("the overview", lambda: driver.title == "Warden · Overview")
    pid = [p for p in status()["programs"] if p["name"] == "engine"][0]["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_for("the engine banner", lambda: (lambda b: b.is_displayed() and "ENGINE UNREACHABLE" in b.text)(driver.find_element(By.ID, "banner-live")), timeout=10)
    driver.save_screenshot(os.path.join(args.out, "engine-killed.png"))
    print("banner shown after kill -9 of the engine", flush=True)
    driver.get(args.url + "/")
    driver.save_screenshot(os.path.join(args.out, "overview-engine-down.png"))
    print("PASS", flush=True)
finally:
    driver.quit()
