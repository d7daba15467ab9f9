"""The edge app composed with the session store, under a real `wasmtime serve`, keeping its
sessions in a real libSQL server (`sqld`) instead of a file: instances reused for many
requests (wasmtime's default for a WASI 0.3 app) speaking Hrana over wasi:http. Each test starts its own sqld on a free loopback
port and stops it by PID afterwards.

Proves: sessions persist across requests, instances and servers; 32 concurrent clients all
succeed; 50 concurrent saves of one session keep every value, and saves racing a logout or
renewal never bring the session back nor lose an acknowledged value; sqld going away
mid-run gives clear 503s and the same server recovers by itself when sqld is back, with
every acknowledged session intact; a session written through `wasmtime serve` is read and ended through the
Node host (jco), and the other way round."""

import os
import re
import signal
import socket
import subprocess
import threading
import time
import unittest
from concurrent.futures import ThreadPoolExecutor

from edge import (ROOT, STORE, UNAVAILABLE, Server, SetRaces, compose, id_of, put_get_clients,
                  sets_on_one_cookie)
from sqld import Sqld, mint_auth

NODE_DIR = os.path.join(ROOT, "examples", "node")
NODE_MAIN = os.path.join(NODE_DIR, "src", "main.js")
SWEEP_SH = os.path.join(ROOT, "examples", "cron", "sweep.sh")


def setUpModule():
    compose()
    # The Node host's jco transpilation of the same component (redone only when stale).
    subprocess.run(["node", os.path.join(NODE_DIR, "scripts", "build.js")], check=True,
                   env=dict(os.environ, LIBSQLSTORE_COMPONENT=STORE), stdout=subprocess.DEVNULL)


class NodeHost(Server):
    """`node examples/node/src/main.js --listen 127.0.0.1:0 --database URL` as a child
    process; the same request helpers as Server."""

    STOP_SIGNAL = signal.SIGTERM

    def __init__(self, database, **env):
        child_env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONS_")}
        child_env.update(env)
        proc = subprocess.Popen(
            ["node", NODE_MAIN, "--listen", "127.0.0.1:0", "--database", database],
            env=child_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._watch(proc, re.compile(r"listening on http://127\.0\.0\.1:(\d+)"), "the Node host", 60)


class Persistence(unittest.TestCase):
    def setUp(self):
        self.sqld = Sqld(self)

    def test_routes_work_without_a_data_directory_and_the_sessions_live_in_sqld(self):
        with Server(None, database=self.sqld.url) as server:
            status, body, _, token = server.put("hello sqld")
            self.assertEqual((status, body), (200, "stored\n"))
            self.assertEqual(server.request("/get", token=token)[:2], (200, "hello sqld"))
            new = server.post("/renew", token=token)[3]
            self.assertNotEqual(new, token)
            self.assertEqual(server.request("/get", token=new)[1], "hello sqld")
            self.assertEqual(server.request("/get", token=token)[1], "")
            self.assertEqual(self.sqld.active_session_count(), 1)
            status, _, headers, _ = server.post("/destroy", token=new)
            self.assertEqual(status, 200)
            self.assertRegex(headers["set-cookie"], r"^session=; .*Max-Age=0")
        self.assertEqual(self.sqld.active_session_count(), 0)

    def test_sessions_survive_a_restart_of_the_server_and_are_shared_by_two_servers(self):
        with Server(None, database=self.sqld.url) as first:
            token = first.put("survives")[3]
        with Server(None, database=self.sqld.url) as a, Server(None, database=self.sqld.url) as b:
            self.assertEqual(a.request("/get", token=token)[1], "survives")
            other = b.put("from b")[3]
            self.assertEqual(a.request("/get", token=other)[1], "from b")

    def test_a_forged_token_is_never_adopted(self):
        forged = "A" * 43
        with Server(None, database=self.sqld.url) as server:
            status, _, _, token = server.put("mine", token=forged)
            self.assertEqual(status, 200)
            self.assertNotEqual(token, forged)
            self.assertEqual(server.request("/get", token=forged)[1], "")
        self.assertEqual(self.sqld.query("SELECT count(*) FROM sessions WHERE id = '%s'" % id_of(forged)), [["0"]])


class Load(unittest.TestCase):
    def test_64_concurrent_clients_all_succeed_and_every_put_is_stored(self):
        # More clients than serve.sh lets reach sqld at once (8): the others queue, none fails.
        sqld = Sqld(self)
        rounds = 8
        with Server(None, database=sqld.url) as server:
            outcomes, live, elapsed = put_get_clients(server, 64, rounds)
        # A put answers "stored", a get the message put.
        failures = [(route, message, status, body) for route, message, status, _, body in outcomes
                    if status != 200 or body != ("stored\n" if route == "/put" else message)]
        print("\n64 clients on sqld: %d requests in %.2fs, %d failed" % (len(outcomes), elapsed, len(failures)))
        self.assertEqual(failures, [])
        self.assertEqual(len(outcomes), 64 * rounds * 2)
        self.assertEqual(sqld.session_count(), 64 * rounds)
        self.assertEqual(len(set(live)), 64 * rounds)


class ConcurrentSets(unittest.TestCase):
    """50 POST /set of distinct keys with one session's cookie, all at once, the session in
    sqld: every answer 200 or a 409 conflict whose retry lands; no value is lost (see
    edge.sets_on_one_cookie)."""

    COUNT = 50

    def run_sets(self, what, **server_args):
        sqld = Sqld(self)
        with Server(None, database=sqld.url, **server_args) as server:
            conflicts = [sets_on_one_cookie(self, server, self.COUNT) for _ in range(3)]
        print("\n%d concurrent /set on one cookie (%s), 3 rounds: %s x 409" % (self.COUNT, what, conflicts))
        self.assertLess(max(conflicts), self.COUNT // 2, "most sets land within their attempts")

    def test_50_concurrent_sets_on_one_cookie_keep_every_value(self):
        self.run_sets("sqld")

    def test_50_concurrent_sets_on_one_cookie_keep_every_value_with_a_fresh_instance_per_request(self):
        self.run_sets("sqld, an instance per request", serve_args=("--reuse-instances", "1"))


class SetFinality(SetRaces, unittest.TestCase):
    """Conditional saves (/set, each key its own) racing a logout or renewal of their
    session, in sqld: see edge.SetRaces."""

    def active(self, sqld, token):
        now_ms = int(time.time() * 1000)
        return sqld.query("SELECT count(*) FROM sessions WHERE id = '%s' AND expiry > %d" % (id_of(token), now_ms))

    def test_sets_racing_a_logout_never_bring_the_session_back(self):
        sqld = Sqld(self)
        with Server(None, database=sqld.url, serve_args=self.SERVE_ARGS) as server:
            old = self.race_logout(server)
        self.assertEqual(self.active(sqld, old), [["0"]], "the ended session is stored as active")

    def test_sets_racing_a_renewal_are_carried_to_the_new_token_exactly_when_acknowledged_into_the_old(self):
        sqld = Sqld(self)
        with Server(None, database=sqld.url, serve_args=self.SERVE_ARGS) as server:
            old, renewed = self.race_renewal(server)
        self.assertEqual(self.active(sqld, old), [["0"]], "the renewed token is stored as active")
        self.assertEqual(self.active(sqld, renewed), [["1"]])


class SetFinalityWithAnInstancePerRequest(SetFinality):
    SERVE_ARGS = ("--reuse-instances", "1")


class Outage(unittest.TestCase):
    def test_sqld_killed_mid_run_gives_503s_then_the_server_recovers_and_no_acknowledged_session_is_lost(self):
        sqld = Sqld(self)
        with Server(None, database=sqld.url, SESSIONS_REMOTE_TIMEOUT="1s") as server:
            acknowledged = []  # (token, message) of every put answered 200
            statuses = []
            unexpected = []
            lock = threading.Lock()
            stop = threading.Event()

            def client(c):
                i = 0
                while not stop.is_set() and i < 2000:
                    message = "c%d-%d" % (c, i)
                    i += 1
                    status, body, headers, token = server.put(message)
                    with lock:
                        statuses.append(status)
                        if status == 200:
                            acknowledged.append((token, message))
                        elif status != 503 or headers.get("retry-after") != "1" \
                                or "session store unavailable" not in body:
                            unexpected.append((status, body))
                    if status == 503:
                        time.sleep(0.02)

            def wait_for(predicate, what, timeout=30):
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline:
                    with lock:
                        if predicate():
                            return
                    time.sleep(0.01)
                self.fail("timed out waiting for " + what)

            with ThreadPoolExecutor(4) as pool:
                clients = [pool.submit(client, c) for c in range(4)]
                try:
                    wait_for(lambda: len(acknowledged) >= 20, "20 successful puts before the outage")
                    sqld.stop(signal.SIGKILL)
                    outage_started = len(statuses)
                    wait_for(lambda: statuses[outage_started:].count(503) >= 20, "20 answers of 503 during the outage")
                    down = statuses[outage_started:]
                    probe = server.request("/get", token=acknowledged[0][0])
                    sqld.start()
                    recovered_from = len(statuses)
                    wait_for(lambda: statuses[recovered_from:].count(200) >= 20, "20 successful puts after recovery")
                finally:
                    stop.set()
                    for f in clients:
                        f.result()

            self.assertEqual(unexpected, [])
            self.assertEqual(probe[0], 503)
            self.assertEqual(probe[1], UNAVAILABLE)
            self.assertTrue(server.logged("cannot reach the libSQL server at " + sqld.url), server.log_text())
            # Requests in flight when sqld died may still have succeeded; after that, only 503s.
            self.assertEqual(set(down[8:]), {503})
            for token, message in acknowledged:
                self.assertEqual(server.request("/get", token=token)[:2], (200, message), token)
            print("\nsqld outage: %d requests, %d ok, %d x 503, %d sessions acknowledged and all readable"
                  % (len(statuses), statuses.count(200), statuses.count(503), len(acknowledged)))
        self.assertGreaterEqual(sqld.session_count(), len(acknowledged))


    def test_a_server_that_accepts_connections_but_never_answers_gives_503_after_the_remote_timeout(self):
        with socket.socket() as silent:
            silent.bind(("127.0.0.1", 0))
            silent.listen(64)
            url = "http://127.0.0.1:%d" % silent.getsockname()[1]
            with Server(None, database=url, SESSIONS_REMOTE_TIMEOUT="300ms") as server:
                started = time.monotonic()
                status, body, headers, _ = server.put("never stored")
                elapsed = time.monotonic() - started
                logged = server.logged("within 300ms")
                log = server.log_text()
        self.assertEqual(status, 503, body)
        self.assertEqual(headers.get("retry-after"), "1")
        self.assertEqual(body, UNAVAILABLE)
        self.assertTrue(logged, log)
        self.assertLess(elapsed, 5)


class Auth(unittest.TestCase):
    def test_a_server_requiring_auth_serves_with_the_right_token_and_refuses_another_with_a_clear_503(self):
        auth = mint_auth()
        sqld = Sqld(self, auth=auth)
        with Server(None, database=sqld.url, SESSIONS_AUTH_TOKEN=auth["token"]) as server:
            token = server.put("authorized")[3]
            self.assertEqual(server.request("/get", token=token)[:2], (200, "authorized"))
            with open("/proc/%d/cmdline" % server.proc.pid, "rb") as f:
                self.assertNotIn(auth["token"].encode(), f.read(), "the token stays out of the process list")
        for refused in ({"SESSIONS_AUTH_TOKEN": auth["foreignToken"]}, {}):
            with Server(None, database=sqld.url, **refused) as server:
                status, body, headers, _ = server.request("/get", token=token)
                self.assertEqual(status, 503, body)
                self.assertEqual(headers.get("retry-after"), "1")
                self.assertEqual(body, UNAVAILABLE)
                self.assertTrue(server.logged("refused the auth token (HTTP 401 Unauthorized)"), server.log_text())
        self.assertEqual(sqld.session_count(), 1)


class CrossHost(unittest.TestCase):
    def test_a_session_written_by_wasmtime_serve_is_read_renewed_and_destroyed_by_the_node_host(self):
        sqld = Sqld(self)
        with Server(None, database=sqld.url) as edge, NodeHost(sqld.url) as node:
            token = edge.put("from the edge")[3]
            self.assertEqual(node.request("/get", token=token)[:2], (200, "from the edge"))
            renewed = node.post("/renew", token=token)[3]
            self.assertEqual(edge.request("/get", token=renewed)[1], "from the edge")
            self.assertEqual(edge.request("/get", token=token)[1], "")
            node_token = node.put("from node")[3]
            self.assertEqual(edge.request("/get", token=node_token)[1], "from node")
            self.assertEqual(edge.post("/destroy", token=node_token)[0], 200)
            self.assertEqual(node.request("/get", token=node_token)[1], "")
        self.assertEqual(sqld.active_session_count(), 1)

    def test_a_cron_sweep_against_sqld_removes_expired_sessions_while_both_hosts_serve(self):
        sqld = Sqld(self)
        with Server(None, database=sqld.url, EDGE_SESSION_LIFETIME="1s") as short:
            for i in range(10):
                self.assertEqual(short.put("old%d" % i)[0], 200)
        time.sleep(1.2)
        with Server(None, database=sqld.url) as edge, NodeHost(sqld.url, SESSIONS_CLEANUP_INTERVAL="0") as node:
            def client(host):
                kept = []
                for i in range(10):
                    message = "%s-%d" % (host.__class__.__name__, i)
                    status, _, _, token = host.put(message)
                    self.assertEqual(status, 200)
                    kept.append((token, message))
                return kept

            env = dict(os.environ, LIBSQLSTORE_COMPONENT=STORE, SESSIONS_SWEEP_BATCH="4")
            with ThreadPoolExecutor(3) as pool:
                sweep = pool.submit(subprocess.run, [SWEEP_SH, "--database", sqld.url], env=env,
                                    capture_output=True, text=True, timeout=120)
                kept = [k for r in pool.map(client, [edge, node]) for k in r]
                swept = sweep.result()
            self.assertEqual(swept.returncode, 0, swept.stderr)
            self.assertEqual(swept.stdout.strip(), "removed 10 expired sessions in 3 batches")
            for token, message in kept:
                self.assertEqual(node.request("/get", token=token)[1], message)
                self.assertEqual(edge.request("/get", token=token)[1], message)
        self.assertEqual(sqld.session_count(), len(kept))


if __name__ == "__main__":
    unittest.main()
