// The host program (src/main.js) as real processes: persistence across instances, and a
// cron-style sweep from another process while requests are being served.

import test from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { HostClock } from '../src/clock.js';
import { MAIN, fileEnv, get, integrityCheck, open, spawnHost, stopHost, tempDir } from './helpers.js';

const run = promisify(execFile);
const HOUR = 3_600_000;

test('the host prints its URL and sessions persist across a restart (a new instance)', async (t) => {
  const dataDir = tempDir(t);
  const first = await spawnHost(t, ['--listen', '127.0.0.1:0', '--data-dir', dataDir]);
  assert.match(first.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const { token } = await get(first.url, '/put?message=survives');
  assert.equal(await stopHost(first), 0);
  const second = await spawnHost(t, ['--listen', '127.0.0.1:0', '--data-dir', dataDir]);
  assert.equal((await get(second.url, '/get', { token })).body, 'survives');
  await stopHost(second);
  assert.equal(integrityCheck(join(dataDir, 'sessions.db')), 'ok');
});

/** Spawns the host on `dataDir` as a user with the usual umask (022) would. */
async function spawnUnderUmask022(t, dataDir) {
  const old = process.umask(0o022);
  try {
    return await spawnHost(t, ['--listen', '127.0.0.1:0', '--data-dir', dataDir]);
  } finally {
    process.umask(old);
  }
}

test('a fresh data directory and its files are readable by the server user only', async (t) => {
  const dataDir = join(tempDir(t), 'data');
  const host = await spawnUnderUmask022(t, dataDir);
  assert.equal((await get(host.url, '/put?message=private')).status, 200);
  await stopHost(host);
  assert.equal(statSync(dataDir).mode & 0o777, 0o700);
  const names = readdirSync(dataDir);
  assert.ok(names.includes('sessions.db'), names.join());
  for (const name of names) {
    const mode = statSync(join(dataDir, name)).mode & 0o777;
    assert.equal(mode & 0o077, 0, `${name} is mode ${mode.toString(8)}`);
  }
});

test('an existing data directory open to others is served with a warning and kept as set', async (t) => {
  const dataDir = join(tempDir(t), 'data');
  mkdirSync(dataDir, { mode: 0o755 });
  const host = await spawnUnderUmask022(t, dataDir);
  assert.equal((await get(host.url, '/put?message=kept')).status, 200);
  await stopHost(host);
  assert.match(host.stderr(), /is accessible to other users \(mode 755\)/);
  assert.equal(statSync(dataDir).mode & 0o777, 0o755);
  assert.equal(statSync(join(dataDir, 'sessions.db')).mode & 0o077, 0);
});

test('sweeps from another process while requests are served: each request succeeds or gets 503, nothing is corrupted', async (t) => {
  const dataDir = tempDir(t);
  // Seed 150 sessions that expired an hour ago: written through an instance whose clock
  // runs two hours behind, so they were live when written.
  const past = new HostClock();
  past.shift(-2 * HOUR);
  const seeder = await open(dataDir, fileEnv(), past);
  for (let i = 0; i < 150; i++) await seeder.create(new TextEncoder().encode(`old${i}`), { absolute: past.nowMs() + HOUR });
  const host = await spawnHost(t, ['--listen', '127.0.0.1:0', '--data-dir', dataDir], { SESSIONS_SWEEP_BATCH: '25' });

  const statuses = [];
  const live = [];
  const client = async (c) => {
    for (let i = 0; i < 15; i++) {
      const put = await get(host.url, `/put?message=c${c}-${i}`);
      statuses.push(put.status);
      if (put.status !== 200) continue;
      const got = await get(host.url, '/get', { token: put.token });
      statuses.push(got.status);
      if (got.status === 200) assert.equal(got.body, `c${c}-${i}`);
      live.push([put.token, `c${c}-${i}`]);
    }
  };
  const sweeps = (async () => {
    const outputs = [];
    for (let i = 0; i < 3; i++) {
      const { stdout } = await run(process.execPath, [MAIN, 'sweep', '--data-dir', dataDir], {
        env: { ...process.env, SESSIONS_SWEEP_BATCH: '25' },
      });
      outputs.push(stdout);
    }
    return outputs;
  })();
  const [outputs] = await Promise.all([sweeps, ...[0, 1, 2, 3].map(client)]);

  assert.match(outputs[0], /^removed \d+ expired sessions in \d+ batches/);
  const removed = outputs.reduce((n, out) => n + Number(out.match(/removed (\d+)/)[1]), 0);
  assert.equal(removed, 150, 'the sweeps together removed every expired session');
  assert.ok(statuses.every((s) => s === 200 || s === 503), `statuses: ${[...new Set(statuses)]}`);
  assert.ok(statuses.filter((s) => s === 200).length > 0);
  for (const [token, message] of live) assert.equal((await get(host.url, '/get', { token })).body, message);
  await stopHost(host);
  const checker = await open(dataDir);
  assert.deepEqual(await checker.stats(), { active: live.length, expired: 0 });
  assert.equal(integrityCheck(join(dataDir, 'sessions.db')), 'ok');
});
