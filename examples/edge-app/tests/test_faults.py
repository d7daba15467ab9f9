"""Faults of the edge app under a real `wasmtime serve` (file backend, the settings serve.sh
gives by default) at 64 concurrent clients over loopback (see load.py):

* a cron sweep (examples/cron/sweep.sh: `wasmtime run --invoke 'sweep()'` on the session
  store, the same directory preopened, an owner file for its lock) started every second
  while the clients run: every request answered 200 or 503 busy (the contract's answer when
  the lock stays taken past the busy timeout), every acknowledged save readable, the file
  intact, and the sweeps remove exactly the sessions written with expiries in the past;
* SIGKILL of the wasmtime process itself mid-load, then a restart through serve.sh (which
  removes the lock the killed server left): every acknowledged save readable with its
  cookie, the file intact.

Both scenarios run twice: with serve.sh's default (wasmtime reuses an instance of the WASI 0.3
app for up to 128 requests, 16 at once, whose writes share `write-all` transactions) and with a
fresh instance per request (`--reuse-instances 1`).

Each scenario runs its load once per class; each test asserts one invariant of it, so an
availability failure (503 busy, timeouts) is told apart from lost or corrupted data."""

import json
import os
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse

from edge import ROOT, STORE, Server, compose, integrity_check, serve_env, stored_message
from load import REQUEST_TIMEOUT_S, Load, describe, read_back, request, summary

SWEEP_SH = os.path.join(ROOT, "examples", "cron", "sweep.sh")
CLIENTS = 64
# Seconds of load in each scenario; the SIGKILL lands halfway.
LOAD_SECONDS = 4
# A cron sweep starts every this many seconds, whether or not the previous one ended.
SWEEP_EVERY_S = 1
# Sessions written with expiries in the past before the server starts, for the sweeps.
EXPIRED = 20_000
# A request unanswered this long is hung, not slow: far past the store's busy timeout (5 s), after
# which a request that cannot get the lock is answered 503. The scenarios assert what the contract
# promises on a machine under any load (200, or 503 busy), not an idle machine's latency.
ANSWER_BOUND_S = 30
# The scenarios that start a fresh instance for every request.
PER_REQUEST = ("--reuse-instances", "1")


def setUpModule():
    compose()


def seed_expired(data, count):
    """Creates the store's file through the component (its own schema), then writes `count`
    sessions whose expiries lie an hour and more in the past, while nothing else runs."""
    subprocess.run(["wasmtime", "run", "-S", "http", "--dir", data + "::/data", "--invoke", "edge:sessions/store.stats@0.2.2()", STORE],
                   check=True, capture_output=True, env=serve_env())
    past = int(time.time() * 1000) - 3_600_000
    db = sqlite3.connect(os.path.join(data, "sessions.db"))
    try:
        with db:
            db.executemany(
                "INSERT INTO sessions (id, data, expiry) VALUES (?, ?, ?)",
                (("expired-%035d" % i,
                  json.dumps({"deadline": past - i, "values": {"message": "expired"}}).encode(),
                  past - i) for i in range(count)))
    finally:
        db.close()


def expired_rows(db_path, now_ms):
    """Sessions in the file whose expiry is not after `now_ms`."""
    db = sqlite3.connect("file:%s?mode=ro" % urllib.parse.quote(db_path), uri=True)
    try:
        return db.execute("SELECT count(*) FROM sessions WHERE expiry <= ?", (now_ms,)).fetchone()[0]
    finally:
        db.close()


class CronSweeps:
    """Starts `sweep.sh --data-dir DATA` every SWEEP_EVERY_S seconds, as cron would (a run
    still going does not delay the next), until stop(); keeps each run's exit status, output
    and duration."""

    def __init__(self, data):
        self.data = data
        self.runs = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._waiters = []
        self._thread = threading.Thread(target=self._schedule, daemon=True)
        self._thread.start()

    def _schedule(self):
        started = time.monotonic()
        n = 0
        while not self._stop.wait(max(0.0, started + n * SWEEP_EVERY_S - time.monotonic())):
            n += 1
            waiter = threading.Thread(target=self._sweep, daemon=True)
            waiter.start()
            self._waiters.append(waiter)

    def _sweep(self):
        started = time.monotonic()
        run = subprocess.run([SWEEP_SH, "--data-dir", self.data], env=serve_env(),
                             capture_output=True, text=True)
        with self._lock:
            self.runs.append((run.returncode, run.stdout.strip(), run.stderr.strip(), time.monotonic() - started))

    def stop(self):
        """Starts no more sweeps and waits for the running ones."""
        self._stop.set()
        self._thread.join()
        for waiter in self._waiters:
            waiter.join(timeout=120)

    def removed(self):
        total = 0
        for _, out, _, _ in self.runs:
            if out.startswith("removed "):
                total += int(out.split()[1])
        return total


def wasmtime_pid(proc):
    """The wasmtime process serving for `proc` (serve.sh execs it; otherwise a descendant)."""
    def comm(pid):
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()

    def children(pid):
        try:
            with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                return [int(c) for c in f.read().split()]
        except OSError:
            return []

    todo = [proc.pid]
    while todo:
        pid = todo.pop()
        if comm(pid) == "wasmtime":
            return pid
        todo.extend(children(pid))
    raise AssertionError("no wasmtime process under the server's launcher (pid %d)" % proc.pid)


class Scenario(unittest.TestCase):
    """A scenario run once, in a directory of its own, by the class's `run_scenario(data)`; its tests
    look at what it recorded. Its servers get `serve_args` (serve.sh arguments)."""

    serve_args = ()

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="edge-faults-")
        try:
            cls.db = os.path.join(cls.tmp.name, "sessions.db")
            cls.run_scenario(cls.tmp.name)
        except BaseException:
            cls.tmp.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()


class SweepsUnderLoad(Scenario):
    """64 clients for LOAD_SECONDS while a cron sweep starts every second on the directory."""

    @classmethod
    def run_scenario(cls, data):
        seed_expired(data, EXPIRED)
        with Server(data, serve_args=cls.serve_args) as server:
            sweeps = CronSweeps(data)
            load = Load(server.port, CLIENTS, ANSWER_BOUND_S)
            time.sleep(LOAD_SECONDS)
            cls.seconds = load.stop()
            sweeps.stop()
            cls.load, cls.sweeps = load, sweeps
            cls.lost, cls.superseded, cls.unreadable = read_back(server.port, load.sessions)
        now = int(time.time() * 1000)
        cls.integrity = integrity_check(cls.db)
        cls.in_file = {t: stored_message(cls.db, t, now) for t in load.sessions}
        cls.expired_left = expired_rows(cls.db, now)
        durations = sorted(run[3] for run in sweeps.runs)
        print("\n%d clients for %.1fs with a sweep every %ds (%d runs, %d failed, %.2f-%.2fs each, %d removed "
              "of %d expired):\n%s\n%d sessions acknowledged, %d read back holding an unanswered save, "
              "%d lost, %d unreadable; %d late commits of unanswered saves; integrity_check: %s"
              % (CLIENTS, cls.seconds, SWEEP_EVERY_S, len(sweeps.runs),
                 sum(1 for r in sweeps.runs if r[0] != 0), durations[0] if durations else 0,
                 durations[-1] if durations else 0, sweeps.removed(), EXPIRED,
                 describe(load.outcomes, cls.seconds, load.timeout), len(load.sessions), cls.superseded, len(cls.lost),
                 len(cls.unreadable), len(load.late_commits), cls.integrity))
        for acked, read in load.late_commits:
            print("late commit: the read after the acknowledged save of %r returned the unanswered %r" % (acked, read))

    def test_every_request_is_answered_200_or_503_busy_while_sweeps_run(self):
        figures = {route: summary(self.load.outcomes, route) for route in ("/put", "/get")}
        failed = {route: {k: s[k] for k in ("other_5xx", "other", "timeouts", "errors") if s[k]}
                  for route, s in figures.items()}
        self.assertTrue(all(s["ok"] for s in figures.values()), figures)
        self.assertEqual(
            failed, {"/put": {}, "/get": {}},
            "answers other than 200 or 503 busy (timeouts = no answer within %.0fs, errors = connection "
            "failures); latencies: %s" % (ANSWER_BOUND_S, {
                route: "%d requests, p99 %.0f ms, max %.0f ms" % (s["requests"], s["p99_ms"], s["max_ms"])
                for route, s in figures.items()}))

    def test_every_acknowledged_put_is_readable_afterwards(self):
        self.assertGreater(len(self.load.sessions), 0, "no save was acknowledged: nothing was tested")
        self.assertEqual(self.load.anomalies, [])
        self.assertEqual(self.unreadable, [], "sessions never answered 200 by /get")
        self.assertEqual(self.lost, [], "sessions read back without their acknowledged message")
        for token, session in self.load.sessions.items():
            self.assertIn(self.in_file[token], session.allowed(), "in the file after the server stopped")

    def test_the_database_passes_integrity_check(self):
        self.assertEqual(self.integrity, "ok")

    def test_the_sweeps_succeed_and_remove_exactly_the_sessions_expired_in_the_past(self):
        failed = [(code, err) for code, _, err, _ in self.sweeps.runs if code != 0]
        self.assertGreaterEqual(len(self.sweeps.runs), LOAD_SECONDS - 1)
        self.assertEqual(failed, [])
        self.assertEqual(self.sweeps.removed(), EXPIRED)
        self.assertEqual(self.expired_left, 0)


class SigkillUnderLoad(Scenario):
    """64 clients; halfway through LOAD_SECONDS the wasmtime process gets SIGKILL; serve.sh
    starts a new server on the same directory."""

    @classmethod
    def run_scenario(cls, data):
        with Server(data, serve_args=cls.serve_args) as server:
            pid = wasmtime_pid(server.proc)
            load = Load(server.port, CLIENTS)
            time.sleep(LOAD_SECONDS / 2)
            os.kill(pid, signal.SIGKILL)
            cls.killed_at = time.monotonic()
            cls.seconds = load.stop()
        cls.load = load
        cls.lock_left = os.path.exists(cls.db + "-lock")
        journal = cls.db + "-journal"
        cls.hot_journal = os.path.exists(journal) and os.path.getsize(journal) > 0
        with Server(data, serve_args=cls.serve_args) as restarted:
            outcome = None
            if load.sessions:
                token = next(iter(load.sessions))
                outcome = request(restarted.port, "/get", token, timeout=60)[0]
            cls.first_after_restart = outcome
            cls.lost, cls.superseded, cls.unreadable = read_back(restarted.port, load.sessions)
        cls.restart_log = restarted.log_text()
        cls.integrity = integrity_check(cls.db)
        before = [o for o in load.outcomes if o.ended < cls.killed_at]
        print("\n%d clients, SIGKILL after %.1fs (lock left: %s, hot journal: %s); before the kill:\n%s\n"
              "%d requests cut by the kill; %d sessions acknowledged, %d read back holding an unanswered "
              "save, %d lost, %d unreadable; first request after the restart: %s in %.0f ms; integrity_check: %s"
              % (CLIENTS, LOAD_SECONDS / 2, cls.lock_left, cls.hot_journal,
                 describe(before, LOAD_SECONDS / 2, load.timeout), sum(1 for o in load.outcomes if o.ended >= cls.killed_at),
                 len(load.sessions), cls.superseded, len(cls.lost), len(cls.unreadable),
                 outcome and outcome.status, 1000 * (outcome.seconds if outcome else 0), cls.integrity))

    def test_every_acknowledged_put_is_readable_with_its_cookie_after_the_restart(self):
        self.assertGreater(len(self.load.sessions), 0, "no save was acknowledged: nothing was tested")
        self.assertEqual(self.load.anomalies, [])
        self.assertEqual(self.unreadable, [], "sessions never answered 200 by /get")
        self.assertEqual(self.lost, [], "sessions read back without their acknowledged message")

    def test_the_database_passes_integrity_check_after_the_restart(self):
        self.assertEqual(self.integrity, "ok")

    def test_the_restarted_server_recovers_the_killed_servers_lock_and_answers_at_once(self):
        if self.lock_left:
            self.assertIn("removed a lock left by a process that exited", self.restart_log)
        self.assertIsNotNone(self.first_after_restart)
        self.assertEqual(self.first_after_restart.status, 200)
        self.assertLess(self.first_after_restart.seconds, REQUEST_TIMEOUT_S)


class SweepsUnderLoadWithAnInstancePerRequest(SweepsUnderLoad):
    """SweepsUnderLoad with a fresh instance for every request."""

    serve_args = PER_REQUEST


class SigkillUnderLoadWithAnInstancePerRequest(SigkillUnderLoad):
    """SigkillUnderLoad with a fresh instance for every request."""

    serve_args = PER_REQUEST


if __name__ == "__main__":
    unittest.main()
