// The Sync page as a person uses it: press Sync now and watch the run, make changes and see
// them counted and pushed, lose the V5 central and read why, keep screenshots for review.
import type { Page } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { test, expect, startWorld, stopWorld, startSplitWorld, stopProcess, watchConsole, signInAsAdmin } from './world';

const SIZES = [{ width: 1366, height: 768 }, { width: 768, height: 1024 }, { width: 390, height: 844 }];
const SHOT_SIZES = SIZES;
const SHOTS = 'artifacts/screenshots';
mkdirSync(SHOTS, { recursive: true });

async function shootEverySize(page: Page, name: string, sizes = SHOT_SIZES) {
  for (const size of sizes) {
    await page.setViewportSize(size);
    await page.screenshot({ path: `${SHOTS}/${name}-${size.width}x${size.height}.png` });
  }
  await page.setViewportSize(SIZES[0]);
}

const step = (page: Page, key: string) => page.locator(`.stepper [data-step="${key}"]`);

test('press_sync_now_and_watch_each_step_finish_with_its_totals', async ({ page }) => {
  // A slow link (every request held 250 ms, like a cellular line) so the run lasts long
  // enough to be watched at the page's one-second polling.
  const world = await startWorld(['--link-delay-ms', '250']);
  try {
    const errors = watchConsole(page);
    await page.goto(world.site + '/sync');
    await expect(step(page, 'prepareInitial')).toBeVisible();
    await expect(page.getByTestId('last-successful-sync')).toHaveText(/Never/);
    await shootEverySize(page, 'sync-idle-before-first-sync');

    const seenActive: string[] = [];
    const watcher = setInterval(async () => {
      const key = await page.locator('.stepper [data-state="active"]').getAttribute('data-step', { timeout: 50 }).catch(() => null);
      if (key && seenActive.at(-1) !== key) seenActive.push(key);
    }, 100);

    await page.getByTestId('sync-now').click();
    await expect(page.getByRole('status', { name: 'Syncing' })).toBeVisible();
    await expect(page.getByTestId('sync-now')).toBeDisabled();
    await expect(page.locator('.stepper [data-state="active"]')).toHaveCount(1);
    // Two sizes only: the run must still be going when the steps are checked.
    await shootEverySize(page, 'sync-mid-run', SIZES);

    for (const key of ['prepareInitial', 'pullCentral', 'pullRemote', 'pullV6', 'integration']) {
      await expect(step(page, key)).toHaveAttribute('data-state', 'done', { timeout: 45_000 });
    }
    clearInterval(watcher);
    // Before the site is initialised there is nothing of its own to push.
    await expect(step(page, 'pushV6')).toHaveAttribute('data-state', 'skipped');
    await expect(step(page, 'push')).toHaveAttribute('data-state', 'skipped');
    for (const key of ['pullCentral', 'pullRemote', 'pullV6', 'integration']) {
      await expect(step(page, key).getByTestId('step-progress')).toHaveText(/^([\d,]+) \/ \1$/);
    }
    await expect(page.getByRole('status', { name: 'Syncing' })).toBeHidden();
    await expect(page.getByTestId('sync-now')).toBeEnabled();
    await expect(page.getByTestId('last-successful-sync')).toHaveText(/just now|seconds? ago/);
    await expect(page.getByTestId('sync-error')).toHaveCount(0);

    // The page saw the run move, and in run order.
    const order = ['prepareInitial', 'pushV6', 'push', 'pullCentral', 'pullRemote', 'pullV6', 'integration'];
    expect(seenActive.length).toBeGreaterThan(0);
    const positions = seenActive.map((k) => order.indexOf(k));
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    await shootEverySize(page, 'sync-idle-after-sync');
    expect(errors).toEqual([]);
  } finally {
    await stopWorld(world);
  }
});

test('change_two_locations_and_two_assets_then_sync_sends_four_records', async ({ page }) => {
  const world = await startWorld();
  try {
    await page.goto(world.site + '/sync');
    await page.getByTestId('sync-now').click();
    await expect(step(page, 'integration')).toHaveAttribute('data-state', 'done', { timeout: 30_000 });
    await expect(page.getByTestId('records-to-push')).toHaveText('0');

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Store data' }).click();
    await signInAsAdmin(page);
    const locations = page.getByTestId('locations');
    for (const [row, name] of [[0, 'Cold room'], [1, 'Dispensary']] as const) {
      await locations.getByRole('button', { name: /^Edit location/ }).nth(row).click();
      await page.getByLabel('Name', { exact: true }).fill(name);
      await page.getByRole('button', { name: 'Save location' }).click();
      await expect(locations.getByRole('cell', { name, exact: true })).toBeVisible();
    }
    const assets = page.getByTestId('assets');
    await assets.getByRole('button', { name: /^Edit asset/ }).first().click();
    await page.getByLabel('Notes').fill('Checked today');
    await page.getByRole('button', { name: 'Save asset' }).click();
    await expect(assets.getByRole('cell', { name: 'Checked today', exact: true })).toBeVisible();
    await locations.getByRole('button', { name: /^Edit location/ }).first().click();
    await page.evaluate(() => window.scrollTo(0, 0));
    await shootEverySize(page, 'store-data-editing-a-location');
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.getByTestId('asset-form').scrollIntoViewIfNeeded();
    await shootEverySize(page, 'store-data-asset-form');
    await page.getByLabel('Code').last().fill('CCE-900');
    await page.getByLabel('Serial number').fill('SN-900');
    await page.getByRole('button', { name: 'Add asset' }).click();
    await expect(assets.getByRole('cell', { name: 'CCE-900', exact: true })).toBeVisible();

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: /^Sync\b/ }).click();
    await expect(page.getByTestId('records-to-push')).toHaveText('4');
    await page.getByTestId('sync-now').click();
    await expect(step(page, 'integration')).toHaveAttribute('data-state', 'done', { timeout: 30_000 });
    await expect(page.getByRole('status', { name: 'Syncing' })).toBeHidden();
    // Each change is processed by both push steps but sent to one central: 4 records, not 8.
    await expect(step(page, 'pushV6').getByTestId('step-progress')).toHaveText('4 / 4');
    await expect(step(page, 'push').getByTestId('step-progress')).toHaveText('4 / 4');
    await expect(page.getByTestId('records-to-push')).toHaveText('0');
  } finally {
    await stopWorld(world);
  }
});

test('stop_the_v5_central_and_hover_the_error_icon_to_read_why', async ({ browser }) => {
  const world = await startSplitWorld();
  const page = await browser.newPage({ viewport: SIZES[0] });
  try {
    await page.goto(world.site + '/sync');
    await expect(page.getByTestId('last-successful-sync')).toHaveText(/ago/, { timeout: 30_000 });

    await stopProcess(world.children.legacy);
    await page.getByTestId('sync-now').click();
    const error = page.getByTestId('sync-error');
    await expect(error).toBeVisible({ timeout: 30_000 });
    await expect(error).toHaveAttribute('data-variant', 'CONNECTION_ERROR');
    await expect(error).toContainText('Unable to connect to server');
    await expect(page.getByRole('status', { name: 'Syncing' })).toBeHidden();

    const tooltip = page.getByTestId('error-tooltip');
    await expect(tooltip).toBeHidden();
    await page.getByTestId('error-info').hover();
    await expect(tooltip).toBeVisible();
    await expect(tooltip.locator('strong')).not.toBeEmpty();
    await expect(tooltip).toContainText(world.legacy.replace('http://', ''));
    await shootEverySize(page, 'sync-error');
  } finally {
    await page.close();
    for (const child of Object.values(world.children)) await stopProcess(child);
  }
});

test('tap_the_error_icon_on_a_tablet_to_read_why', async ({ browser }) => {
  const world = await startSplitWorld();
  const context = await browser.newContext({ viewport: SIZES[1], hasTouch: true, isMobile: false });
  const page = await context.newPage();
  try {
    await page.goto(world.site + '/sync');
    await expect(page.getByTestId('last-successful-sync')).toHaveText(/ago/, { timeout: 30_000 });
    await stopProcess(world.children.legacy);
    await page.getByTestId('sync-now').tap();
    await expect(page.getByTestId('sync-error')).toBeVisible({ timeout: 30_000 });
    const tooltip = page.getByTestId('error-tooltip');
    await expect(tooltip).toBeHidden();
    await page.getByTestId('error-info').tap();
    await expect(tooltip).toBeVisible();
    const box = await tooltip.boundingBox();
    expect(box!.x).toBeGreaterThanOrEqual(0);
    expect(box!.x + box!.width).toBeLessThanOrEqual(SIZES[1].width);
  } finally {
    await context.close();
    for (const child of Object.values(world.children)) await stopProcess(child);
  }
});

test('save_settings_with_a_bad_url_shows_the_error_beside_the_field', async ({ page, world }) => {
  await page.goto(world.site + '/admin/sync');
  await signInAsAdmin(page);
  await expect(page.getByLabel('Site password')).toHaveValue('');
  const url = page.getByLabel('Central server URL');

  await url.fill('ftp://central');
  await page.getByLabel('Site password').fill('demo');
  await page.getByTestId('save-settings').click();
  await expect(page.getByTestId('error-url')).toContainText('http://');

  // A well-formed URL where no central answers: the server's check fails on the URL field.
  await url.fill('http://127.0.0.1:9');
  await page.getByLabel('Site password').fill('demo');
  await page.getByTestId('save-settings').click();
  await expect(page.getByTestId('error-url')).toContainText(/connect/i, { timeout: 30_000 });
  await expect(page.getByTestId('settings-saved')).toHaveCount(0);
  await shootEverySize(page, 'settings-error');
});

test('every_button_is_at_least_44_pixels_and_the_page_does_not_move_while_polling', async ({ page, world }) => {
  for (const size of SIZES) {
    await page.setViewportSize(size);
    await page.goto(world.site + '/sync');
    await expect(page.getByTestId('records-to-push')).toHaveText(/\d/);
    for (const button of await page.getByRole('button').all()) {
      const box = await button.boundingBox();
      expect(box!.height, await button.innerText()).toBeGreaterThanOrEqual(44);
      expect(box!.width, await button.innerText()).toBeGreaterThanOrEqual(44);
    }
    const stepper = page.locator('.stepper');
    const before = await stepper.boundingBox();
    await page.getByTestId('sync-now').click();
    await expect(step(page, 'integration')).toHaveAttribute('data-state', 'done', { timeout: 30_000 });
    const after = await stepper.boundingBox();
    expect(after).toEqual(before);
  }
});
