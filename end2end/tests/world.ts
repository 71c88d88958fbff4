// A fresh Outpost world per test: `outpost demo` (V5 central, V6 central and a seeded site in
// one process) on free ports, with its own temporary data. The binary comes from OUTPOST_BIN,
// which scripts/test.sh sets to the debug build that `cargo test` already made.
import { test as base, expect, type Page, type ConsoleMessage } from '@playwright/test';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type World = {
  site: string;
  legacy: string;
  central: string;
  process: ChildProcess;
  /** Lines the demo printed, for failure messages. */
  log: string[];
};

export async function startWorld(extraArgs: string[] = []): Promise<World> {
  const bin = process.env.OUTPOST_BIN;
  if (!bin) throw new Error('OUTPOST_BIN is not set: run the browser tests through scripts/test.sh');
  const dataDir = mkdtempSync(join(tmpdir(), 'outpost-e2e-'));
  const child = spawn(bin, [
    'demo', '--data-dir', dataDir,
    '--listen', '127.0.0.1:0', '--legacy-listen', '127.0.0.1:0', '--central-listen', '127.0.0.1:0',
    ...extraArgs,
  ], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, OUTPOST_LOG: process.env.OUTPOST_LOG ?? 'info' } });
  child.on('exit', () => rmSync(dataDir, { recursive: true, force: true }));
  const log: string[] = [];
  const urls: Record<string, string> = {};
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`outpost demo did not start:\n${log.join('\n')}`)), 30_000);
    const onData = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        if (!line) continue;
        log.push(line);
        const m = line.match(/listening on (http:\/\/\S+) \((\S+)\)/);
        if (m) urls[m[2]] = m[1];
      }
      if (urls['site'] && urls['legacy-central'] && urls['central']) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`outpost demo exited (${code}):\n${log.join('\n')}`)); });
  });
  // The demo configures its site before the site listens: a first status that says otherwise
  // is the product's bug, reported here with the servers' log rather than as a greyed-out
  // Sync now! button the test waits on until it times out.
  const status = await (await fetch(urls['site'] + '/api/sync/status')).json();
  if (!status.configured) {
    child.kill('SIGTERM');
    throw new Error(`the demo site says it is not configured:\n${log.join('\n')}`);
  }
  return { site: urls['site'], legacy: urls['legacy-central'], central: urls['central'], process: child, log };
}

export async function stopWorld(world: World) {
  await stopProcess(world.process);
}

/** Console errors and uncaught exceptions of a page, collected for assertions. */
export function watchConsole(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (msg: ConsoleMessage) => { if (msg.type() === 'error') errors.push(msg.text()); });
  page.on('pageerror', (err) => errors.push(err.message));
  return errors;
}

/** Run `outpost ARGS` until it prints `listening on http://ADDR`; resolves with that URL. */
function startRole(args: string[], log: string[]): Promise<{ url: string; child: ChildProcess }> {
  const bin = process.env.OUTPOST_BIN!;
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, OUTPOST_LOG: 'warn' } });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`outpost ${args[0]} did not start:\n${log.join('\n')}`)), 30_000);
    const onData = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        if (!line) continue;
        log.push(`${args[0]}: ${line}`);
        const m = line.match(/^listening on (http:\/\/\S+)/);
        if (m) { clearTimeout(timer); resolve({ url: m[1], child }); }
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`outpost ${args[0]} exited (${code}):\n${log.join('\n')}`)); });
  });
}

/** Admin passwords: `outpost demo` documents `outpost-admin`; the split world sets its own. */
export const DEMO_ADMIN_PASSWORD = 'outpost-admin';
export const SPLIT_ADMIN_PASSWORD = 'e2e-admin-password';

/** Sign in on a page that shows the admin sign-in form (Admin › Synchronisation, Store data). */
export async function signInAsAdmin(page: Page, password = DEMO_ADMIN_PASSWORD) {
  await page.getByLabel('Admin password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('sign-out')).toBeVisible();
}

/** The three roles as separate processes (so one central can be stopped), with `demo-site`
 * registered on the V5 central and the site configured to sync with it. */
export type SplitWorld = {
  site: string; legacy: string; central: string; children: Record<string, ChildProcess>; log: string[];
  /** Run `outpost legacy-central --data-dir <its dir> ARGS` (admin commands). */
  legacyAdmin: (args: string[]) => string;
};

export async function startSplitWorld(): Promise<SplitWorld> {
  const bin = process.env.OUTPOST_BIN;
  if (!bin) throw new Error('OUTPOST_BIN is not set: run the browser tests through scripts/test.sh');
  const dir = mkdtempSync(join(tmpdir(), 'outpost-e2e-split-'));
  const log: string[] = [];
  // The V6 central checks its callers through the V5 central from this machine.
  const legacy = await startRole(['legacy-central', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'v5'), '--trusted-proxy', '127.0.0.1'], log);
  // The V6 central's own site at the legacy central, through which it learns which site each
  // store is on (README, "Registering the V6 central at the legacy central").
  execFileSync(bin, ['legacy-central', '--data-dir', join(dir, 'v5'), 'add-site', '--name', 'v6-central', '--password', 'v6-central'],
    { stdio: 'pipe' });
  const central = await startRole(['central', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'v6'), '--legacy-url', legacy.url,
    '--legacy-site-name', 'v6-central', '--legacy-site-password', 'v6-central'], log);
  execFileSync(bin, ['legacy-central', '--data-dir', join(dir, 'v5'), 'add-site', '--name', 'demo-site', '--password', 'demo',
    '--store', 'split_store', '--central-url', central.url], { stdio: 'pipe' });
  const site = await startRole(['site', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'site'), '--admin-password', SPLIT_ADMIN_PASSWORD], log);
  const login = await fetch(site.url + '/api/session', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ password: SPLIT_ADMIN_PASSWORD }),
  });
  if (!login.ok) throw new Error(`cannot sign in to the site: ${login.status} ${await login.text()}`);
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
  const saved = await fetch(site.url + '/api/settings/sync', {
    method: 'PUT',
    headers: { 'content-type': 'application/json', cookie, 'x-outpost-csrf': '1' },
    body: JSON.stringify({ url: legacy.url, siteName: 'demo-site', password: 'demo', intervalSeconds: 300 }),
  });
  if (!saved.ok) throw new Error(`cannot configure the site: ${saved.status} ${await saved.text()}`);
  site.child.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const legacyAdmin = (args: string[]) =>
    execFileSync(bin, ['legacy-central', '--data-dir', join(dir, 'v5'), ...args], { encoding: 'utf8' });
  return { site: site.url, legacy: legacy.url, central: central.url, children: { site: site.child, legacy: legacy.child, central: central.child }, log, legacyAdmin };
}

export async function stopProcess(child: ChildProcess) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

export const test = base.extend<{ world: World }>({
  world: async ({}, use, testInfo) => {
    const world = await startWorld();
    await use(world);
    await stopWorld(world);
    // What the servers said, beside the trace of a failed test.
    if (testInfo.status !== testInfo.expectedStatus) {
      await testInfo.attach('outpost-demo.log', { body: world.log.join('\n'), contentType: 'text/plain' });
    }
  },
});

export { expect };
