"""Cron-style sweeps: the wasmtime CLI calling the store's `sweep` export by its bare name
(the exact command of the docs), sweep.sh (the same, until no expired session remains), and
`host-example sweep`. Each seeds sessions through the component itself, half of them
expiring within a second."""

import os
import re
import subprocess
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
STORE = os.environ.get("LIBSQLSTORE_COMPONENT") or os.path.join(
    ROOT, "target", "wasm32-wasip2", "release", "libsqlstore.wasm")
HOST_EXAMPLE = os.environ.get("HOST_EXAMPLE") or os.path.join(ROOT, "target", "release", "host-example")
SWEEP_SH = os.path.join(HERE, "sweep.sh")
SHORT_MS = 1000


def store_call(call):
    """`call` of the store's 0.2.2 interface, qualified: the component exports two versions of
    `store`, so a bare `stats()` is ambiguous (the sweeper is exported once)."""
    name, args = call.split("(", 1)
    return "edge:sessions/store.%s@0.2.2(%s" % (name, args)


def invoke(data_dir, call, **env):
    """`wasmtime run -S http --dir DATA::/data --invoke CALL libsqlstore.wasm`; returns its output."""
    cmd = ["wasmtime", "run", "-S", "http", "--dir", data_dir + "::/data"]
    for name, value in env.items():
        cmd += ["--env", "%s=%s" % (name, value)]
    out = subprocess.run(cmd + ["--invoke", call, STORE], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def seed(data_dir, expiring, live):
    """Creates `expiring` sessions that expire SHORT_MS from now and `live` ones for an hour;
    returns when the expiring ones have expired."""
    now = int(time.time() * 1000)
    for i in range(expiring + live):
        expiry = now + (SHORT_MS if i < expiring else 3_600_000)
        out = invoke(data_dir, store_call("create([%d], %d)" % (i % 256, expiry)))
        assert re.fullmatch(r'ok\("[A-Za-z0-9_-]{43}"\)', out), out
    time.sleep(max(0.0, (now + SHORT_MS) / 1000 - time.time()) + 0.1)


def env_without_sessions_vars(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONS_")}
    env["LIBSQLSTORE_COMPONENT"] = STORE
    env.update(extra)
    return env


class Cron(unittest.TestCase):
    def setUp(self):
        d = tempfile.TemporaryDirectory(prefix="cron-")
        self.addCleanup(d.cleanup)
        self.data = d.name

    def test_wasmtime_run_invoke_sweep_by_bare_name_removes_only_expired_sessions(self):
        seed(self.data, expiring=3, live=2)
        self.assertEqual(invoke(self.data, store_call("stats()")), "ok({active: 2, expired: 3})")
        self.assertEqual(invoke(self.data, "sweep()"), "ok({removed: 3, more: false})")
        self.assertEqual(invoke(self.data, store_call("stats()")), "ok({active: 2, expired: 0})")

    def test_cleanup_interval_is_callable_the_same_way(self):
        self.assertEqual(invoke(self.data, "cleanup-interval()", SESSIONS_CLEANUP_INTERVAL="30s"), "some(30000)")

    def test_sweep_sh_sweeps_batch_after_batch_until_none_remain(self):
        seed(self.data, expiring=5, live=1)
        out = subprocess.run([SWEEP_SH, "--data-dir", self.data], check=True, capture_output=True, text=True,
                             env=env_without_sessions_vars(SESSIONS_SWEEP_BATCH="2")).stdout
        self.assertEqual(out, "removed 5 expired sessions in 3 batches\n")
        self.assertEqual(invoke(self.data, store_call("stats()")), "ok({active: 1, expired: 0})")

    def test_sweep_sh_under_umask_022_creates_files_readable_by_its_user_only_and_warns_of_an_open_directory(self):
        os.chmod(self.data, 0o755)
        old = os.umask(0o022)
        try:
            run = subprocess.run([SWEEP_SH, "--data-dir", self.data], check=True, capture_output=True, text=True,
                                 env=env_without_sessions_vars())
        finally:
            os.umask(old)
        self.assertEqual(run.stdout, "removed 0 expired sessions in 1 batches\n")
        self.assertIn("is accessible to other users (mode 755)", run.stderr)
        names = os.listdir(self.data)
        self.assertIn("sessions.db", names)
        for name in names:
            mode = os.stat(os.path.join(self.data, name)).st_mode & 0o777
            self.assertEqual(mode & 0o077, 0, "%s is mode %o" % (name, mode))

    def test_sweep_sh_exits_1_with_the_reason_while_another_instance_holds_the_lock(self):
        invoke(self.data, store_call("stats()"))
        with open(os.path.join(self.data, "sessions.db-lock"), "w") as f:
            f.write("owner=another-instance")
        run = subprocess.run([SWEEP_SH, "--data-dir", self.data], capture_output=True, text=True,
                             env=env_without_sessions_vars(SESSIONS_BUSY_TIMEOUT="100ms"))
        self.assertEqual(run.returncode, 1)
        self.assertIn("locked by another instance", run.stderr)

    def test_host_example_sweep_removes_expired_sessions_and_reports_the_count(self):
        seed(self.data, expiring=3, live=2)
        run = subprocess.run([HOST_EXAMPLE, "sweep", "--data-dir", self.data, "--component", STORE],
                             check=True, capture_output=True, text=True, env=env_without_sessions_vars())
        self.assertRegex(run.stdout, r"^removed 3 expired sessions in 1 batches \(\d+ ms\)\n$")
        run = subprocess.run([HOST_EXAMPLE, "stats", "--data-dir", self.data, "--component", STORE],
                             check=True, capture_output=True, text=True, env=env_without_sessions_vars())
        self.assertEqual(run.stdout, "active: 2\nexpired: 0\n")


if __name__ == "__main__":
    unittest.main()
