#!/usr/bin/env python3
"""Opens a backtest's report.html in headless Chromium (file://, no network) and checks that its charts rendered:
each chart has a visible size, one line per strategy with points, and labelled time and value axes. Saves a
screenshot. Prints PASS or FAIL: <why>."""
import argparse
import os
import sys

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

p = argparse.ArgumentParser()
p.add_argument("--report", required=True, help="report.html")
p.add_argument("--strategies", required=True, help="comma-separated strategy names the charts must show")
p.add_argument("--out", required=True, help="screenshot file")
args = p.parse_args()

options = Options()
for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1600"):
    options.add_argument(a)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def fail(why):
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    driver.save_screenshot(args.out)
    print("FAIL: " + why)
    driver.quit()
    sys.exit(1)


try:
    driver.get("file://" + os.path.abspath(args.report))
    if driver.title != "Backtest report":
        fail("title is " + repr(driver.title))
    wanted = [s for s in args.strategies.split(",") if s]
    for chart in ("equity", "drawdown"):
        svg = driver.find_element(By.ID, chart)
        size = svg.size
        if size["width"] < 300 or size["height"] < 150:
            fail(f"chart {chart} rendered at {size}")
        lines = svg.find_elements(By.CSS_SELECTOR, "polyline.series")
        shown = sorted(l.get_attribute("data-strategy") for l in lines)
        if shown != sorted(wanted):
            fail(f"chart {chart} shows {shown}, expected {sorted(wanted)}")
        for l in lines:
            pts = l.get_attribute("points").split()
            if len(pts) < 2:
                fail(f"chart {chart}: the line of {l.get_attribute('data-strategy')} has {len(pts)} points")
            box = driver.execute_script("const b = arguments[0].getBBox(); return [b.width, b.height];", l)
            if box[0] <= 0:
                fail(f"chart {chart}: the line of {l.get_attribute('data-strategy')} has no width on screen")
        xs = [t.text for t in svg.find_elements(By.CSS_SELECTOR, "text.tick-x")]
        ys = [t.text for t in svg.find_elements(By.CSS_SELECTOR, "text.tick-y")]
        if len(xs) < 3 or not all(":" in x for x in xs):
            fail(f"chart {chart}: time axis labels {xs}")
        if len(ys) < 3:
            fail(f"chart {chart}: value axis labels {ys}")
    rows = driver.find_elements(By.CSS_SELECTOR, "#figures tr")
    if len(rows) != len(wanted) + 1:
        fail(f"the figures table has {len(rows) - 1} strategies, expected {len(wanted)}")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    driver.save_screenshot(args.out)
    print("PASS")
finally:
    driver.quit()
