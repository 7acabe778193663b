#!/usr/bin/env python3
"""The operator console and the API reference in a real browser (Debian's chromium, driven by
Selenium through Debian's chromedriver), against a live `ytempire up` whose script provider is
an OpenAI-compatible server this test runs: down (answering 500), a video's script job fails
until it is given up; back up, an operator retries it from the console and watches it complete.

    browser_test.py --base http://127.0.0.1:PORT --provider-port N --bin PATH --database-url URL [--screenshots DIR]

With --screenshots, the queues page, its charts and a failed job's page are saved there at 1280x720.
Exits non-zero on the first check that fails, saying which.
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

PASSWORD = "Console-check-0123"
SCRIPT = ("Swift runs well on servers. In this video we look at how a small team ships a job queue "
          "on PostgreSQL, why workers claim jobs with skip locked, how leases recover from crashes, "
          "and what an operator watches when the fleet is busy. We close with three tips for "
          "keeping queues healthy: watch the oldest waiting job, retry failures by their cause, "
          "and drain before every deploy.")


def totp(secret, steps_ahead=0):
    """RFC 6238 (SHA-1, 6 digits, 30 s), the code of the current step plus `steps_ahead`."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    counter = int(time.time() // 30) + steps_ahead
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return f"{(struct.unpack('>I', digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def step(text):
    print(f"--- {text}", flush=True)


def fail(text):
    print(f"FAILED: {text}", file=sys.stderr, flush=True)
    sys.exit(1)


class API:
    def __init__(self, base):
        self.base = base.rstrip("/") + "/api/v1"

    def call(self, method, path, body=None, token=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                text = response.read().decode()
                return response.status, (json.loads(text) if text else None)
        except urllib.error.HTTPError as error:
            text = error.read().decode()
            return error.code, (json.loads(text) if text else None)

    def ok(self, method, path, body=None, token=None):
        status, answer = self.call(method, path, body, token)
        if status >= 300:
            fail(f"{method} {path} answered {status}: {answer}")
        return answer


class Provider:
    """An OpenAI-compatible chat completions server on loopback: while down it answers every
    request 500 (the provider's own outage message), once up it writes scripts."""

    def __init__(self, port):
        self.port = port
        self.up = threading.Event()
        self.server = None

    def start(self):
        up = self.up

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                if not self.path.endswith("/chat/completions"):
                    self.reply(404, {"error": {"message": "Unknown path", "type": "invalid_request_error"}})
                elif not up.is_set():
                    self.reply(500, {"error": {"message": "The server had an error while processing your request.", "type": "server_error"}})
                else:
                    self.reply(200, {
                        "id": "chatcmpl-console", "object": "chat.completion", "model": "gpt-4o-mini",
                        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": SCRIPT}}],
                        "usage": {"prompt_tokens": 120, "completion_tokens": 90, "total_tokens": 210},
                    })

            def reply(self, status, answer):
                body = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,720",
                 "--force-device-scale-factor=1", "--lang=en-US"):
        options.add_argument(flag)
    # Debian's driver, so Selenium never looks for one to download.
    driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
    viewport(driver, 1280, 720)
    return driver


def viewport(driver, width, height):
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})


def wait(driver, condition, what, timeout=60):
    def check(d):
        try:
            return condition(d)
        except (StaleElementReferenceException, WebDriverException):
            return False
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.25).until(check)
    except Exception:
        fail(f"{what} (waited {timeout} s; the page said: {status_text(driver)!r})")


def status_text(driver):
    try:
        return driver.find_element(By.ID, "status").text
    except WebDriverException:
        return ""


def queue_cell(driver, queue, column):
    """The text of a queue's cell, by column index (0: the name)."""
    cells = driver.find_elements(By.CSS_SELECTOR, f'#queues tr[data-queue="{queue}"] > *')
    return cells[column].text if len(cells) > column else None


def toggle(driver, queue, label):
    """Clicks a queue's Pause or Resume button once it says `label`."""
    selector = f'#queues tr[data-queue="{queue}"] button[data-action="toggle"]'
    button = wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, selector) if d.find_element(By.CSS_SELECTOR, selector).text == label else None,
                  f"{queue}'s button says {label}")
    button.click()


def click_confirm(driver):
    dialog = wait(driver, lambda d: d.find_element(By.ID, "confirm") if d.find_element(By.ID, "confirm").get_attribute("open") is not None else None,
                  "a confirmation dialog opens")
    dialog.find_element(By.ID, "confirm-ok").click()


# Every visible text's contrast against the background it sits on (WCAG 2: 4.5:1, 3:1 for
# large text; disabled controls are exempt): the failures, as "text: ratio".
CONTRAST = """
const luminance = (rgb) => rgb.map((c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); })
  .reduce((sum, c, i) => sum + c * [0.2126, 0.7152, 0.0722][i], 0);
const parse = (color) => { const m = color.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
  const p = m[1].split(",").map(Number); return { rgb: p.slice(0, 3), alpha: p.length > 3 ? p[3] : 1 }; };
const background = (element) => {
  for (let e = element; e; e = e.parentElement) {
    const c = parse(getComputedStyle(e).backgroundColor);
    if (c && c.alpha > 0.5) return c.rgb;
  }
  return [255, 255, 255];
};
const failures = [];
for (const element of document.querySelectorAll("body *")) {
  const text = [...element.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent.trim()).join("");
  if (!text || element.closest("[hidden], dialog:not([open]), svg") || element.disabled) continue;
  const rect = element.getBoundingClientRect();
  if (rect.width === 0 || rect.height === 0) continue;
  const style = getComputedStyle(element);
  const fg = parse(style.color); if (!fg) continue;
  const [a, b] = [luminance(fg.rgb), luminance(background(element))];
  const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  const size = parseFloat(style.fontSize), bold = parseInt(style.fontWeight, 10) >= 700;
  const needed = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
  if (ratio < needed) failures.push(`${text.slice(0, 40)}: ${ratio.toFixed(2)}`);
}
return failures;
"""


def search_jobs(driver, base, arg):
    driver.get(f"{base}/admin/jobs?arg={urllib.request.quote(arg)}")
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#jobs tbody tr[data-job]"), f"jobs with {arg} are listed")
    return driver.find_elements(By.CSS_SELECTOR, "#jobs tbody tr[data-job]")


def job_state(api, token, video_id, kind):
    page = api.ok("GET", f"/admin/jobs?arg=video_id:{video_id}&kind={kind}", token=token)
    return page["jobs"][0] if page["jobs"] else None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--provider-port", type=int, required=True)
    parser.add_argument("--bin", required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--screenshots")
    options = parser.parse_args()
    base = options.base.rstrip("/")
    api = API(base)
    provider = Provider(options.provider_port)

    step("an operator, a user who is not one, and a channel")
    for email, name in (("operator@example.com", "On Call"), ("viewer@example.com", "Not An Operator")):
        api.ok("POST", "/auth/register", {"email": email, "password": PASSWORD, "full_name": name})
    subprocess.run([options.bin, "users", "grant-operator", "operator@example.com"], check=True,
                   env={**os.environ, "DATABASE_URL": options.database_url}, stdout=subprocess.DEVNULL)
    operator = api.ok("POST", "/auth/login", {"email": "operator@example.com", "password": PASSWORD})["access_token"]
    viewer = api.ok("POST", "/auth/login", {"email": "viewer@example.com", "password": PASSWORD})["access_token"]
    channel = api.ok("POST", "/channels", {"name": "Console checks"}, token=operator)["id"]
    # The operator signs in with two-factor authentication on.
    secret = api.ok("POST", "/auth/2fa/enable", token=operator)["secret"]
    api.ok("POST", "/auth/2fa/verify", {"code": totp(secret)}, token=operator)

    def submit(title):
        answer = api.ok("POST", "/videos/generate", {"channel_id": channel, "title": title, "duration_target": 12,
                                                       "cost_limit": 1.0, "quality_threshold": 50}, token=operator)
        return answer["video_id"]

    step("a non-operator gets 403 from the admin API and its socket")
    status, answer = api.call("GET", "/admin/queues", token=viewer)
    if status != 403 or answer.get("error") != "forbidden":
        fail(f"a non-operator's GET /admin/queues answered {status}: {answer}")
    status, answer = api.call("GET", f"/ws/admin?token={viewer}")
    if status != 403 or answer.get("error") != "forbidden":
        fail(f"a non-operator's upgrade to /ws/admin answered {status}: {answer}")

    # The script provider is down: this video's script job fails until it is given up.
    provider.start()
    failing = submit("The provider was down")
    driver = browser()
    try:
        step("signing in to the console as the operator, with the two-factor code it asks for")
        driver.get(f"{base}/admin")
        wait(driver, lambda d: d.find_element(By.ID, "signin-email").is_displayed(), "the sign-in form shows")
        driver.find_element(By.ID, "signin-email").send_keys("operator@example.com")
        driver.find_element(By.ID, "signin-password").send_keys(PASSWORD + Keys.ENTER)
        code = wait(driver, lambda d: d.find_element(By.ID, "signin-code") if d.find_element(By.ID, "signin-code").is_displayed() else None,
                    "the sign-in form asks for the two-factor code")
        # The next step's code: the current one was spent confirming the setup (a replay is refused).
        code.send_keys(totp(secret, steps_ahead=1) + Keys.ENTER)
        wait(driver, lambda d: queue_cell(d, "video_script", 0) == "video_script", "the video_script queue is listed")
        wait(driver, lambda d: "Live" in d.find_element(By.ID, "live").text, "the queues page goes live over its socket")

        step("every text on the queues page is readable: WCAG contrast 4.5:1 (3:1 large)")
        low = driver.execute_script(CONTRAST)
        if low:
            fail(f"text below the contrast it needs: {low}")

        step("keyboard: the first Tab reaches the skip link")
        driver.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
        if driver.switch_to.active_element.get_attribute("class") != "skip":
            fail("the first Tab does not reach the skip link")

        step("the failing video's script job is given up (the provider is down)")
        deadline = time.time() + 90
        while True:
            job = job_state(api, operator, failing, "video.script")
            if job and job["state"] == "discarded":
                break
            if time.time() > deadline:
                fail(f"the failing video's job did not end: {job}")
            time.sleep(1)

        step("pausing video_script: workers stop claiming it, its jobs stay available")
        toggle(driver, "video_script", "Pause")
        wait(driver, lambda d: queue_cell(d, "video_script", 1) == "paused", "video_script shows paused")
        waiting = submit("Waits while the queue is paused")
        wait(driver, lambda d: queue_cell(d, "video_script", 2) not in (None, "0"), "the paused queue shows the new job available")
        time.sleep(4)
        job = job_state(api, operator, waiting, "video.script")
        if not job or job["state"] != "available" or job["attempt"] != 0:
            fail(f"a job of the paused queue was claimed: {job}")

        step("the provider is back; resuming video_script: the waiting job runs to completion")
        provider.up.set()
        driver.get(f"{base}/admin/queues")
        wait(driver, lambda d: queue_cell(d, "video_script", 1) == "paused", "video_script is still paused after a reload")
        toggle(driver, "video_script", "Resume")
        wait(driver, lambda d: queue_cell(d, "video_script", 1) == "active", "video_script shows active")
        deadline = time.time() + 60
        while (job := job_state(api, operator, waiting, "video.script")) is None or job["state"] != "completed":
            if time.time() > deadline:
                fail(f"the job of the resumed queue did not complete: {job}")
            time.sleep(0.5)

        step("draining video_script asks first, then follows its running jobs to none")
        driver.find_element(By.CSS_SELECTOR, '#queues tr[data-queue="video_script"] button[data-action="drain"]').click()
        click_confirm(driver)
        wait(driver, lambda d: "drained" in status_text(d), "the console says video_script is drained")
        toggle(driver, "video_script", "Resume")
        wait(driver, lambda d: queue_cell(d, "video_script", 1) == "active", "video_script resumes after the drain")
        queues = {q["name"]: q for q in api.ok("GET", "/admin/queues", token=operator)["queues"]}
        if queues["video_script"]["paused"]:
            fail("the console shows video_script active while the fleet has it paused")

        step("the last hour's charts count what happened")
        driver.get(f"{base}/admin/queues")
        wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#chart-throughput path.line"), "the throughput chart has a line")
        # The charts' summaries count what the page read: the waiting video's script at least, and the five failed attempts.
        completed = driver.find_element(By.CSS_SELECTOR, "#chart-throughput svg").get_attribute("aria-label")
        failed = driver.find_element(By.CSS_SELECTOR, "#chart-failures svg").get_attribute("aria-label")
        if ": 0 in all" in completed or ": 5 in all" not in failed:
            fail(f"the charts say {completed!r} and {failed!r}")
        if options.screenshots:
            driver.save_screenshot(os.path.join(options.screenshots, "console-queues.png"))
            driver.execute_script("document.querySelector('.charts').scrollIntoView()")
            driver.save_screenshot(os.path.join(options.screenshots, "console-charts.png"))
            driver.execute_script("window.scrollTo(0, 0)")

        step("finding the failed job by its video id")
        rows = search_jobs(driver, base, f"video_id:{failing}")
        failed = [row for row in rows if "video.script" in row.text and "discarded" in row.text]
        if not failed:
            fail(f"no discarded video.script job among: {[row.text for row in rows]}")
        failed[0].find_element(By.TAG_NAME, "a").click()
        wait(driver, lambda d: d.find_element(By.ID, "job").get_attribute("data-state") == "discarded", "the job page shows it discarded")
        errors = driver.find_elements(By.CSS_SELECTOR, "#job-errors li pre")
        if len(errors) != 5 or "answered 500" not in errors[-1].text:
            fail(f"the job page lists {len(errors)} errors: {[e.text for e in errors]}")
        if options.screenshots:
            driver.save_screenshot(os.path.join(options.screenshots, "console-job.png"))

        step("retrying it: the video runs again, its new job completes")
        driver.find_element(By.ID, "job-retry").click()
        wait(driver, lambda d: "retried=" in d.current_url, "the console follows the video's new job")
        wait(driver, lambda d: d.find_element(By.ID, "job").get_attribute("data-state") == "completed",
             "the retried job completes", timeout=120)
        status, video = api.call("GET", f"/videos/{failing}", token=operator)
        if status != 200 or video.get("status") not in ("processing", "completed"):
            fail(f"the retried video is {video}")

        step("at a phone's width the page does not scroll sideways")
        viewport(driver, 390, 844)
        driver.get(f"{base}/admin/queues")
        wait(driver, lambda d: queue_cell(d, "video_script", 0) == "video_script", "the queues page loads at 390 px")
        overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        if overflow > 1:
            fail(f"at 390 px the page is {overflow} px wider than the screen")
        viewport(driver, 1280, 720)

        step("the audit log lists what the operator did")
        driver.get(f"{base}/admin/audit")
        wait(driver, lambda d: "job.retry" in d.find_element(By.ID, "audit").text and "queue.pause" in d.find_element(By.ID, "audit").text,
             "the audit log shows the pause and the retry")

        step("a non-operator signed in to the console sees only that it is for operators")
        driver.find_element(By.ID, "signout").click()
        wait(driver, lambda d: d.find_element(By.ID, "signin-email").is_displayed(), "signing out shows the sign-in form")
        driver.find_element(By.ID, "signin-email").send_keys("viewer@example.com")
        driver.find_element(By.ID, "signin-password").send_keys(PASSWORD + Keys.ENTER)
        wait(driver, lambda d: "Operators only" in d.find_element(By.ID, "main").text, "the console refuses a non-operator")

        step("the API reference: POST /videos/generate expands to its request fields")
        driver.get(f"{base}/docs")
        block = wait(driver, lambda d: d.find_element(By.ID, "operations-Generation-generateVideo"), "the reference lists POST /videos/generate")
        block.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
        wait(driver, lambda d: all(field in d.find_element(By.ID, "operations-Generation-generateVideo").text
                                   for field in ("channel_id", "title", "cost_limit")),
             "the expanded operation shows its request fields")
    finally:
        driver.quit()
        provider.stop()
    print("browser check passed", flush=True)


if __name__ == "__main__":
    main()
