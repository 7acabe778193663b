#!/usr/bin/env python3
"""The chaos run's driver (ops/chaos starts the fleet and calls this). Against a fleet of
simulated hosts (ops/fleet), it runs a workload and, on a seeded random schedule, injects the
faults a real fleet meets; then it lets the fleet settle and checks, from the database and
what the webhook receiver saw, that nothing was lost, done twice or overspent. It prints the
table and exits non-zero on any violation.

Workload: queue jobs (no-op, `sleep` ones that hold their slot a moment, and a few that run
three leases long, so a host cut off or paused is always holding some), a batch of videos with
the offline providers and tight cost limits, each published as it completes to the YouTube
sandbox over 15 connected accounts whose daily quota holds one upload each, and webhook
deliveries of their events to a receiver on the bridge. Faults: SIGKILL of a process (started again), SIGSTOP for longer than
the lease then SIGCONT, a network partition of one host (its link dropped, then healed),
Postgres restarted with `pg_ctl restart -m immediate`, and pg_terminate_backend of random
connections. Each fault's time to heal: for a process, from the kill (restart), SIGCONT or
healed link until its host heartbeats again; for Postgres, from the restart or the
terminations until a new job completes.

Besides the end state it checks what stale holders did: every attempt rescued from a worker
that was still alive (paused or cut off, not killed) must show in that worker's log as stopped
("job stopped": before its lease ran out, or on hearing it was taken), as never started (a
claim answered too late, "left to the rescuer") or as refused when it reported ("job outcome
refused", "completions refused"): a worker that loses a job stops its handler, and the
guarded completion refuses its result.

    chaos.py --seconds 120 --seed 7 --fleet ops/fleet --state .data/fleet --pg-port 54379 --pg-data DIR --pg-bin DIR [--net 10.77.0 --name ytf]
"""
import argparse
import calendar
import hashlib
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API = None  # the first API host's base URL, set from --net


def log(text):
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


class Database:
    def __init__(self, port):
        self.port = port

    def query(self, sql):
        """Rows as lists of strings; retried while Postgres restarts."""
        for attempt in range(60):
            result = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "ytempire",
                                     "-qAtX", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql],
                                    capture_output=True, text=True)
            if result.returncode == 0:
                return [line.split("\t") for line in result.stdout.splitlines() if line]
            time.sleep(0.5)
        raise RuntimeError(f"psql failed: {result.stderr.strip()}")

    def value(self, sql):
        rows = self.query(sql)
        return rows[0][0] if rows else None


def call(method, path, body=None, token=None, attempts=30):
    """The API, retried while the fleet is being hurt."""
    for attempt in range(attempts):
        request = urllib.request.Request(API + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})})
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            if error.code < 500 and error.code != 429:
                raise RuntimeError(f"{method} {path}: {error.code} {error.read().decode()}")
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(1)
    raise RuntimeError(f"{method} {path}: no answer")


def consent(url):
    """The sandbox's consent page approves a login_hint at once: its redirect back, unfollowed."""
    class Stay(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args):
            return None
    try:
        urllib.request.build_opener(Stay).open(url, timeout=20)
    except urllib.error.HTTPError as answer:
        if answer.code in (301, 302, 303):
            return urllib.parse.parse_qs(urllib.parse.urlparse(answer.headers["Location"]).query)
        raise
    raise RuntimeError(f"{url}: no redirect")


class Receiver:
    """The webhook receiver on the bridge: every delivery as (webhook-id, body digest)."""

    def __init__(self, host, port):
        self.seen = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.seen.append((self.headers.get("webhook-id"), hashlib.sha256(body).hexdigest()))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def receipts(self):
        with self.lock:
            return list(self.seen)


class Chaos:
    def __init__(self, options):
        self.options = options
        self.db = Database(options.pg_port)
        self.random = random.Random(options.seed)
        self.faults = []          # (kind, target, seconds to heal)
        self.probes = 0
        self.killed = {}          # pid this run SIGKILLed -> the database's clock just before (epoch seconds)
        self.long_jobs = 0
        self.publish_requested = set()
        self.publish_errors = []

    def fleet(self, *args):
        subprocess.run([self.options.fleet, *args], check=True, stdout=subprocess.DEVNULL)

    def pid(self, host):
        with open(os.path.join(self.options.state, f"{host}.pid")) as file:
            return int(file.read().strip())

    def hosts(self, role):
        return sorted(name[:-4] for name in os.listdir(self.options.state) if name.endswith(".pid") and name.startswith(role))

    def host_back(self, host, since):
        """How long after `since` (the database's clock) the host's process heartbeats again."""
        started = time.time()
        while True:
            back = self.db.value(f"""SELECT extract(epoch FROM min(heartbeat_at) - '{since}'::timestamptz) FROM workers
                                      WHERE host = '{self.options.name}-{host}' AND heartbeat_at > '{since}'::timestamptz""")
            if back:
                return max(0.0, float(back))
            if time.time() - started > 300:
                return None
            time.sleep(0.2)

    def now(self):
        return self.db.value("SELECT now()")

    def probe(self):
        """How long until a new job completes: the fleet works again."""
        self.probes += 1
        started = time.time()
        # Ahead of any backlog (a million jobs wait at priority 0): it measures whether the fleet works, not the queue's length.
        job = self.db.value(f"INSERT INTO jobs (queue, kind, args, priority) VALUES ('default', 'noop', '{{\"probe\": {self.probes}}}', -2) RETURNING id")
        while self.db.value(f"SELECT state FROM jobs WHERE id = {job}") != "completed":
            if time.time() - started > 300:
                return None
            time.sleep(0.2)
        return time.time() - started

    # The faults. Each returns what it hit.

    def kill(self):
        host = self.random.choice(self.hosts("w") + self.hosts("d"))
        pid = self.pid(host)
        self.killed[pid] = float(self.db.value("SELECT extract(epoch FROM now())"))
        os.kill(pid, signal.SIGKILL)
        time.sleep(1)
        since = self.now()
        self.fleet("restart", host)
        return host, self.host_back(host, since)

    def pause(self):
        host = self.random.choice(self.hosts("w"))
        pid = self.pid(host)
        os.kill(pid, signal.SIGSTOP)
        time.sleep(self.options.lease + 5)   # longer than the lease: its jobs are rescued meanwhile
        since = self.now()
        os.kill(pid, signal.SIGCONT)
        return host, self.host_back(host, since)

    def partition(self):
        host = self.random.choice(self.hosts("w") + self.hosts("d"))
        self.fleet("partition", host)
        time.sleep(self.random.uniform(5, self.options.lease + 10))
        since = self.now()
        self.fleet("heal", host)
        return host, self.host_back(host, since)

    def restart_postgres(self):
        subprocess.run(["runuser", "-u", "postgres", "--", os.path.join(self.options.pg_bin, "pg_ctl"), "-D", self.options.pg_data,
                        "-m", "immediate", "-w", "restart"], check=True, stdout=subprocess.DEVNULL)
        return "postgres", self.probe()

    def terminate(self):
        count = self.random.randint(2, 8)
        self.db.query(f"""SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                           WHERE datname = 'ytempire' AND pid <> pg_backend_pid() AND backend_type = 'client backend'
                           ORDER BY random() LIMIT {count}""")
        return f"{count} connections", self.probe()

    def top_up_long_jobs(self):
        """Keeps a dozen jobs that run three leases long waiting or running, ahead of the backlog."""
        o = self.options
        waiting = int(self.db.value("""SELECT count(*) FROM jobs WHERE queue = 'default' AND priority = -1
                                         AND state NOT IN ('completed', 'cancelled', 'discarded')"""))
        if waiting < 12:
            self.db.query(f"""INSERT INTO jobs (queue, kind, args, priority)
                              SELECT 'default', 'sleep', '{{"ms": {o.lease * 3000}}}', -1 FROM generate_series(1, {12 - waiting})""")
            self.long_jobs += 12 - waiting

    def connect_accounts(self, token):
        """Connects 15 YouTube accounts the way a user does: consent at the sandbox, confirm here."""
        for n in range(15):
            for attempt in range(10):
                try:
                    start = call("POST", "/youtube/oauth/connect", {"login_hint": f"chaos{self.options.seed}-{n}@example.com"}, token=token)
                    back = consent(start["authorization_url"])
                    # One try: a failed confirmation (the sandbox's injected errors) spent the state; start again.
                    call("POST", "/youtube/oauth/callback", {"state": back["state"][0], "code": back["code"][0]}, attempts=1)
                    break
                except (RuntimeError, urllib.error.HTTPError) as error:
                    log(f"connecting account {n} failed ({error}); again")
            else:
                raise RuntimeError(f"could not connect account {n}")

    def publish_completed(self, token, user):
        """Publishes each of the user's videos once it completes (the API answers 202 again for one on its way)."""
        for (video,) in self.db.query(f"SELECT id FROM videos WHERE user_id = '{user}' AND status = 'completed'"):
            if video in self.publish_requested:
                continue
            try:
                call("POST", f"/videos/{video}/publish", {"privacy_status": "private"}, token=token)
                self.publish_requested.add(video)
            except RuntimeError as error:
                self.publish_errors.append(str(error))

    def run(self):
        o = self.options
        receiver = Receiver(o.receiver_host, o.receiver_port)
        log("workload: a user, a channel, a webhook endpoint, queue jobs and a batch of videos")
        email = f"chaos-{o.seed}@example.com"
        call("POST", "/auth/register", {"email": email, "password": "Chaos-run-0123", "full_name": "Chaos Run"})
        self.db.query(f"UPDATE users SET subscription_tier = 'enterprise' WHERE email = '{email}'")
        token = call("POST", "/auth/login", {"email": email, "password": "Chaos-run-0123"})["access_token"]
        user = self.db.value(f"SELECT id FROM users WHERE email = '{email}'")
        channel = call("POST", "/channels", {"name": "Chaos"}, token=token)["id"]
        self.connect_accounts(token)
        stop_publishing = threading.Event()

        def publisher():
            while not stop_publishing.wait(2):
                self.publish_completed(token, user)
        threading.Thread(target=publisher, daemon=True).start()
        call("POST", "/webhooks", {"url": f"http://{o.receiver_host}:{o.receiver_port}/hook",
                                   "events": ["video.completed", "video.failed", "video.cancelled", "video.published", "batch.completed",
                                              "cost.limit_reached"]},
             token=token)
        self.db.query(f"""INSERT INTO jobs (queue, kind, args)
                          SELECT 'default', CASE WHEN n % 20 = 0 THEN 'sleep' ELSE 'noop' END,
                                 CASE WHEN n % 20 = 0 THEN '{{"ms": 200}}' ELSE '{{}}' END::jsonb
                            FROM generate_series(1, {o.jobs}) n""")
        videos = [{"channel_id": channel, "title": f"Chaos video {n}", "duration_target": 10 + n % 7,
                   "cost_limit": 0.25 if n % 4 else 0.02, "quality_threshold": 40} for n in range(o.videos)]
        call("POST", "/videos/batch", {"videos": videos, "processing_options": {"parallel": True}}, token=token)

        log(f"faults for {o.seconds} s (seed {o.seed})")
        kinds = [("kill", self.kill), ("pause", self.pause), ("partition", self.partition),
                 ("postgres restart", self.restart_postgres), ("terminate backends", self.terminate)]
        deadline = time.time() + o.seconds
        while time.time() < deadline:
            self.top_up_long_jobs()
            kind, fault = kinds[len(self.faults) % len(kinds)] if len(self.faults) < len(kinds) else self.random.choice(kinds)
            target, healed = fault()
            self.faults.append((kind, target, healed))
            log(f"{kind}: {target}; healed after {healed:.1f} s" if healed is not None else f"{kind}: {target}; NOT healed")
            time.sleep(self.random.uniform(1, 4))

        log("settling: every job, video and delivery to its end")
        settle = time.time() + o.settle
        while time.time() < settle:
            # Uploads waiting for tomorrow's quota are done for this run.
            open_jobs = int(self.db.value("""SELECT count(*) FROM jobs WHERE state NOT IN ('completed', 'cancelled', 'discarded')
                                               AND queue <> 'ml' AND NOT (queue = 'video_publish' AND state = 'scheduled')"""))
            open_videos = int(self.db.value("""SELECT count(*) FROM videos WHERE status IN ('processing', 'publishing')
                                                  OR (status = 'completed' AND user_id = '{user}')""".format(user=user)))
            open_deliveries = int(self.db.value("SELECT count(*) FROM webhook_deliveries WHERE status IN ('pending', 'sending')"))
            if open_jobs == 0 and open_videos == 0 and open_deliveries == 0:
                break
            time.sleep(2)
        stop_publishing.set()
        time.sleep(2)   # the sandbox writes its state every second
        return self.check(user, receiver)

    def check(self, user, receiver):
        o = self.options
        violations = []
        q = self.db.query
        # The backlog went in as one statement; probes and long jobs may have gone in twice when
        # an insert's answer was lost as Postgres restarted, so they are counted, not predicted.
        states = dict(q("SELECT state, count(*) FROM jobs WHERE queue = 'default' GROUP BY 1"))
        completed = int(states.get("completed", 0))
        discarded = int(states.get("discarded", 0))
        expected = completed + discarded
        # The backlog's own kinds: periodic jobs (a due channel sync) share its queue and priority.
        backlog = int(self.db.value("""SELECT count(*) FROM jobs WHERE queue = 'default' AND priority = 0 AND kind IN ('noop', 'sleep')
                                          AND NOT args ? 'probe'"""))
        if backlog != o.jobs or any(s not in ("completed", "discarded") for s in states):
            violations.append(f"queue jobs: {states}; {backlog} of the {o.jobs} of the backlog found")
        poisoned = int(self.db.value("""SELECT count(*) FROM jobs WHERE queue = 'default' AND state = 'discarded'
                                          AND errors::text LIKE '%died%'""") or 0)
        if discarded != poisoned:
            violations.append(f"{discarded - poisoned} queue jobs discarded for another reason than their workers dying")
        videos = q("""SELECT v.id, v.status, v.cost_limit, v.spent, v.reserved,
                             coalesce((SELECT sum(amount) FROM cost_ledger l WHERE l.video_id = v.id), 0),
                             (SELECT count(*) FROM cost_reservations r WHERE r.video_id = v.id),
                             EXISTS (SELECT 1 FROM cost_ledger l WHERE l.video_id = v.id AND l.amount > l.reserved)
                        FROM videos v""")
        statuses = {}
        for vid, status, limit, spent, reserved, ledger, holds, overrun in videos:
            statuses[status] = statuses.get(status, 0) + 1
            if status == "processing":
                violations.append(f"video {vid} still processing")
            if int(ledger) != int(spent):
                violations.append(f"video {vid}: ledger {ledger} != spent {spent}")
            if int(spent) > int(limit) and overrun != "t":
                violations.append(f"video {vid}: spent {spent} > cost_limit {limit}")
            if int(holds) or int(reserved):
                violations.append(f"video {vid}: {holds} reservations, {reserved} reserved")
        events = q(f"""SELECT e.id, d.id, d.status FROM domain_events e
                        LEFT JOIN webhook_deliveries d ON d.event_id = e.id
                       WHERE e.user_id = '{user}' AND e.type IN ('video.completed', 'video.failed', 'video.cancelled', 'video.published',
                                                                'batch.completed', 'cost.limit_reached')""")
        receipts = receiver.receipts()
        ids_by_body = {}
        for webhook_id, digest in receipts:
            ids_by_body.setdefault(digest, set()).add(webhook_id)
        received_ids = {webhook_id for webhook_id, _ in receipts}
        for event, delivery, status in events:
            if not delivery or status != "succeeded" or delivery not in received_ids:
                violations.append(f"event {event}: delivery {delivery or '-'} {status or 'missing'}, received: {delivery in received_ids}")
        for digest, ids in ids_by_body.items():
            if len(ids) > 1:
                violations.append(f"one event delivered under {len(ids)} webhook-ids: {sorted(ids)}")
        duplicates = len(receipts) - len(received_ids)
        published, uploads, accounts_used = self.check_youtube(user, violations)
        stale = self.check_stale_holders(violations)

        print()
        print(f"chaos run: seed {o.seed}, {o.seconds} s of faults, lease {o.lease} s")
        print()
        print("| fault | injected | healed after, p50 | max |")
        print("|---|---:|---:|---:|")
        for kind in sorted({k for k, _, _ in self.faults}):
            heals = [h for k, _, h in self.faults if k == kind and h is not None]
            failed = len([1 for k, _, h in self.faults if k == kind and h is None])
            print(f"| {kind} | {len([1 for k, _, _ in self.faults if k == kind])} | "
                  f"{statistics.median(heals):.1f} s | {max(heals):.1f} s |" if heals else f"| {kind} | {failed} | never | never |")
            if failed:
                violations.append(f"{kind}: the fleet did not work again within 300 s ({failed} times)")
        print()
        print("| processed | count |")
        print("|---|---:|")
        print(f"| queue jobs completed | {completed} of {expected} |")
        print(f"| queue jobs discarded after their workers died 3 times | {discarded} |")
        for status, count in sorted(statuses.items()):
            print(f"| videos {status} | {count} |")
        print(f"| videos published (uploads at YouTube) | {published} ({uploads}) on {accounts_used} of 15 accounts |")
        print(f"| attempts rescued from live workers: stopped before the lease ran out / stopped on hearing / result refused / "
              f"claimed but the answer lost | {stale[0]} / {stale[1]} / {stale[2]} / {stale[3]} |")
        print(f"| stopped handlers still running a lease after the stop (their results refused) | {stale[4]} |")
        print(f"| webhook events | {len(events)} |")
        print(f"| deliveries received (retries included) | {len(receipts)} ({duplicates} repeats of a webhook-id) |")
        print(f"| violations | {len(violations)} |")
        for violation in violations[:50]:
            print(f"VIOLATION: {violation}")
        return 1 if violations else 0


    def check_youtube(self, user, violations):
        """Every published video uploaded exactly once; no account asked for more than its quota."""
        with open(os.path.join(self.options.state, "youtube-sandbox.json")) as file:
            sandbox = json.load(file)
        channels = {account["channelID"] for account in sandbox["accounts"].values()}
        every_upload = {video["id"] for video in sandbox["videos"].values() if video["channelID"] in channels}
        rows = self.db.query(f"""SELECT v.id, v.status, coalesce(p.status, '-'), coalesce(p.youtube_video_id, '')
                                   FROM videos v LEFT JOIN publications p ON p.video_id = v.id WHERE v.user_id = '{user}'""")
        published = 0
        ours = set()   # the uploads our publications recorded (one waiting for quota may be up, its thumbnail not yet)
        for video, status, publication, youtube_id in rows:
            if status == "completed" and video not in self.publish_requested:
                violations.append(f"video {video} completed but could not be published: {self.publish_errors[-1:]}")
            if video in self.publish_requested and publication == "-":
                violations.append(f"video {video}: publishing was accepted but no publication was recorded")
            if youtube_id:
                ours.add(youtube_id)
            if publication == "published":
                published += 1
            elif publication not in ("-", "waiting_quota", "failed"):
                violations.append(f"video {video}: publication still {publication}")
        # A video uploaded twice leaves an upload no publication names; one recorded but not at YouTube was lost there.
        if every_upload != ours:
            violations.append(f"uploads at YouTube {sorted(every_upload)} are not the published videos' {sorted(ours)}")
        # YouTube refuses past the quota (and Postgres's CHECK keeps our count within it): the
        # allocator's failure would show as YouTube having had to refuse.
        if sandbox.get("quotaExceededAnswers", 0):
            violations.append(f"YouTube answered quotaExceeded {sandbox['quotaExceededAnswers']} times: the allocator asked beyond an account's quota")
        accounts_used = len({video["channelID"] for video in sandbox["videos"].values() if video["channelID"] in channels})
        return published, len(every_upload), accounts_used

    def check_stale_holders(self, violations):
        """Every attempt rescued from a worker that lived on is in that worker's log as stopped or refused."""
        rescued = []
        for job, attempt, error, at, queue in self.db.query("""SELECT j.id, e->>'attempt', e->>'error', extract(epoch FROM (e->>'at')::timestamptz), j.queue
                                                          FROM jobs j, jsonb_array_elements(j.errors) e
                                                         WHERE e->>'error' LIKE 'lease expired: worker %'
                                                            OR e->>'error' LIKE 'discarded: the workers running%'"""):
            worker = re.search(r"worker (\S+?)(?: stopped answering|\))", error)
            rescued.append((job, attempt, worker.group(1) if worker else None, float(at), queue))
        fenced, stopped, refused = set(), set(), set()
        failed_claims = {}   # (worker, queue) -> times its claims failed (error or no answer), epoch seconds
        overdue = 0          # handlers told to stop that had not returned a lease later
        for name in os.listdir(self.options.state):
            if not name.endswith(".log"):
                continue
            with open(os.path.join(self.options.state, name), errors="replace") as file:
                # An entry may span lines (a query in an error): its time opens it, its source ends it.
                for entry in re.split(r"\n(?=\d{4}-\d\d-\d\dT)", file.read()):
                    if "[Queue] claim failed" in entry:
                        worker, queue = re.search(r"worker\.id=(\S+)", entry), re.search(r"queue=(\S+)", entry)
                        when = calendar.timegm(time.strptime(entry[:19], "%Y-%m-%dT%H:%M:%S")) if len(entry) > 19 else None
                        if worker and queue and when:
                            failed_claims.setdefault((worker.group(1), queue.group(1)), []).append(when)
                    line = entry.splitlines()[-1] if entry else ""
                    worker = re.search(r"worker\.id=(\S+)", line)
                    if not worker:
                        continue
                    if "job handler still running a lease after it was stopped" in line:
                        overdue += 1
                    elif "job stopped: it may no longer be this worker's" in line or "job outcome refused" in line:
                        job, attempt = re.search(r"job\.id=(\d+)", line), re.search(r"job\.attempt=(\d+)", line)
                        if job and attempt:
                            target = refused if "refused" in line else fenced if "lease running out" in line else stopped
                            target.add((job.group(1), attempt.group(1), worker.group(1)))
                    elif "left to the rescuer" in line:
                        # A claim answered too late to run, or after it was given up: nothing ran.
                        listed = re.search(r"jobs=([\d@,]+)", line)
                        for item in (listed.group(1).split(",") if listed else []):
                            job, _, attempt = item.partition("@")
                            fenced.add((job, attempt, worker.group(1)))
                    elif "completions refused" in line:
                        listed = re.search(r"jobs=([\d@,]+)", line)
                        for item in (listed.group(1).split(",") if listed else []):
                            job, _, attempt = item.partition("@")
                            refused.add((job, attempt, worker.group(1)))
        counts = [0, 0, 0, 0, overdue]
        lease = self.options.lease
        for job, attempt, worker, at, queue in rescued:
            pid = re.search(r"-(\d+)-[0-9a-z]+$", worker or "")
            if pid and int(pid.group(1)) in self.killed and at >= self.killed[int(pid.group(1))]:
                continue   # rescued after its worker was killed: nothing of it lived on
            if (job, attempt, worker) in fenced:
                counts[0] += 1
            elif (job, attempt, worker) in stopped:
                counts[1] += 1
            elif (job, attempt, worker) in refused:
                counts[2] += 1
            elif any(at - lease - 15 <= when <= at + lease for when in failed_claims.get((worker, queue), [])):
                # Taken by a claim whose answer never reached the worker: it logged the claim as
                # failed about a lease before the rescue (or, paused meanwhile, when it woke).
                # Nothing ran.
                counts[3] += 1
            else:
                violations.append(f"job {job} attempt {attempt}: rescued from worker {worker}, which lived on, with no sign it stopped")
        return counts


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=120)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--jobs", type=int, default=20000)
    parser.add_argument("--videos", type=int, default=12)
    parser.add_argument("--lease", type=int, default=10)
    parser.add_argument("--settle", type=int, default=300)
    parser.add_argument("--fleet", required=True)
    parser.add_argument("--state", required=True)
    parser.add_argument("--pg-port", type=int, required=True)
    parser.add_argument("--pg-data", required=True)
    parser.add_argument("--pg-bin", required=True)
    parser.add_argument("--net", default="10.77.0", help="the fleet's /24 (its first three octets)")
    parser.add_argument("--name", default="ytf", help="the fleet's namespace prefix")
    parser.add_argument("--receiver-port", type=int, default=18899)
    options = parser.parse_args()
    options.receiver_host = f"{options.net}.1"
    global API
    API = f"http://{options.net}.11:8000/api/v1"
    sys.exit(Chaos(options).run())


if __name__ == "__main__":
    main()
