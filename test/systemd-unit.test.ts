import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { promisify } from 'node:util';

const UNIT = path.resolve(import.meta.dirname, '../../systemd/crosscam.service');
const ANALYZE = '/usr/bin/systemd-analyze';
const run = promisify(execFile);

/** systemd-analyze verify exits 0 even on bad settings; what it found is on stderr. */
async function verify(file: string): Promise<string> {
  const { stderr } = await run(ANALYZE, ['verify', file]).catch((error: { stderr: string }) => ({ stderr: error.stderr || String(error) }));
  return stderr.trim();
}

/** The unit's text and a copy of it in a temp dir removed after the test (systemd-analyze wants a *.service file). */
async function unitCopy(t: TestContext): Promise<{ dir: string; unit: string; copy: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crosscam-unit-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const unit = await readFile(UNIT, 'utf8');
  const copy = path.join(dir, 'crosscam.service');
  await writeFile(copy, unit);
  return { dir, unit, copy };
}

test('the unit passes systemd-analyze verify, is Type=notify with a watchdog, and a broken copy does not pass', { skip: existsSync(ANALYZE) ? false : 'systemd-analyze not installed' }, async (t) => {
  const { dir, unit, copy } = await unitCopy(t);
  assert.equal(await verify(copy), '');
  const settings = new Map(unit.split('\n').filter((line) => /^[A-Za-z]+=/.test(line)).map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
  assert.equal(settings.get('Type'), 'notify');
  assert.equal(settings.get('NotifyAccess'), 'all', 'pings come from a systemd-notify child');
  assert.ok(Number(settings.get('WatchdogSec')) > 0);

  const broken = path.join(dir, 'broken.service');
  await writeFile(broken, unit.replace('Type=notify', 'Type=notifyy'));
  assert.match(await verify(broken), /Failed to parse service type/);
});

test('the unit hides its processes (camera URLs in ffmpeg argv), keeps files private and scores ≤ 1.5 in systemd-analyze security', { skip: existsSync(ANALYZE) ? false : 'systemd-analyze not installed' }, async (t) => {
  const { unit, copy } = await unitCopy(t);
  const settings = unit.split('\n').filter((line) => /^[A-Za-z]+=/.test(line));
  for (const setting of ['ProtectProc=invisible', 'ProcSubset=pid', 'UMask=0077', 'RemoveIPC=yes', 'PrivateUsers=yes', 'SystemCallFilter=~@privileged @resources', 'RestartPreventExitStatus=66 78']) {
    assert.ok(settings.includes(setting), `${setting} is set`);
  }
  assert.ok(!settings.some((line) => line.startsWith('SupplementaryGroups=')), 'the video group is only in the Jetson drop-in');
  const jetson = await readFile(path.resolve(import.meta.dirname, '../../systemd/jetson-gpu.conf'), 'utf8');
  assert.match(jetson, /^SupplementaryGroups=video$/m);
  const { stdout } = await run(ANALYZE, ['security', '--offline=yes', '--no-pager', copy]);
  const exposure = Number(/Overall exposure level for crosscam\.service: ([\d.]+)/.exec(stdout)?.[1]);
  assert.ok(exposure <= 1.5, `exposure ${exposure} ≤ 1.5`);
});
