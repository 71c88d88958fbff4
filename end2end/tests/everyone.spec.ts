// The Sync page for everyone: a French-speaking nurse, a district officer on a phone, a keyboard
// and screen-reader user. Screenshots (French, phone) join the others in artifacts/screenshots.
import AxeBuilder from '@axe-core/playwright';
import type { Page } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { test, expect, startSplitWorld, stopProcess, signInAsAdmin, watchConsole, DEMO_ADMIN_PASSWORD } from './world';

const SHOTS = 'artifacts/screenshots';
mkdirSync(SHOTS, { recursive: true });
const PHONE = { width: 390, height: 844 };
const SIZES = [{ width: 1366, height: 768 }, { width: 768, height: 1024 }, PHONE];

async function shoot(page: Page, name: string, sizes = SIZES) {
  for (const size of sizes) {
    await page.setViewportSize(size);
    await page.screenshot({ path: `${SHOTS}/${name}-${size.width}x${size.height}.png`, fullPage: true });
  }
}

/** Words of the English page that must not be left on the French one. */
const ENGLISH = ['Sync now', 'Records to push', 'Last sync', 'Never', ' ago', 'Synchronisation status', 'Pull Central',
  'Integrate', 'Store data', 'Last runs', 'Succeeded', 'Manual', 'Synced'];

test.describe('in a French browser', () => {
  test.use({ locale: 'fr-FR' });

  test('read_the_page_in_french', async ({ page, world }) => {
    const errors = watchConsole(page);
    await page.goto(world.site + '/sync');
    await expect(page.locator('html')).toHaveAttribute('lang', 'fr');
    await expect(page.getByRole('heading', { name: 'État de la synchronisation' })).toBeVisible();
    await page.getByRole('button', { name: 'Synchroniser !' }).click();
    await expect(page.locator('.stepper [data-step="integration"]')).toHaveAttribute('data-state', 'done', { timeout: 30_000 });
    await expect(page.locator('.stepper [data-step="pullCentral"] .step-label')).toHaveText('Réception centrale');
    await expect(page.getByTestId('last-successful-sync')).toContainText(/à l'instant|il y a/);
    await expect(page.getByTestId('header-sync')).toContainText('Synchronisé');
    await expect(page.getByTestId('history-run').first()).toContainText('Réussie');
    // Totals are grouped the French way (a narrow no-break space, not a comma).
    const progress = await page.locator('.stepper [data-step="pullCentral"] [data-testid="step-progress"]').innerText();
    expect(progress).not.toContain(',');
    const text = await page.locator('body').innerText();
    for (const word of ENGLISH) expect(text, `"${word}" left in English`).not.toContain(word);
    await shoot(page, 'fr-sync');

    await page.getByRole('navigation').getByRole('link', { name: 'Données du magasin' }).click();
    await signInAsAdminIn(page, 'Mot de passe administrateur', 'Se connecter');
    await expect(page.getByRole('heading', { name: 'Données du magasin' })).toBeVisible();
    await expect(page.getByRole('heading', { name: 'Emplacements' })).toBeVisible();
    await shoot(page, 'fr-store-data', [PHONE]);
    expect(errors).toEqual([]);
  });
});

async function signInAsAdminIn(page: Page, label: string, button: string) {
  await page.getByLabel(label).fill(DEMO_ADMIN_PASSWORD);
  await page.getByRole('button', { name: button }).click();
  await expect(page.getByTestId('sign-out')).toBeVisible();
}

test('switch_the_language_and_reload', async ({ page, world }) => {
  await page.goto(world.site + '/sync');
  await expect(page.getByRole('heading', { name: 'Synchronisation status' })).toBeVisible();
  await expect(page.locator('html')).toHaveAttribute('lang', 'en');
  await page.getByTestId('language').selectOption('fr');
  await expect(page.getByRole('heading', { name: 'État de la synchronisation' })).toBeVisible();
  await expect(page.locator('html')).toHaveAttribute('lang', 'fr');
  await page.reload();
  await expect(page.getByRole('heading', { name: 'État de la synchronisation' })).toBeVisible();
  await expect(page.getByTestId('language')).toHaveValue('fr');
  await page.getByTestId('language').selectOption('en');
  await page.reload();
  await expect(page.getByRole('heading', { name: 'Synchronisation status' })).toBeVisible();
});

test('see_the_last_runs_and_open_the_error_of_a_failed_one', async ({ browser }) => {
  const world = await startSplitWorld();
  const page = await browser.newPage({ viewport: SIZES[0] });
  try {
    await page.goto(world.site + '/sync');
    await expect(page.getByTestId('last-successful-sync')).toHaveText(/ago/, { timeout: 30_000 });
    await stopProcess(world.children.legacy);
    await page.getByTestId('sync-now').click();
    await expect(page.getByTestId('sync-error')).toBeVisible({ timeout: 30_000 });

    const runs = page.getByTestId('history-run');
    await expect(runs).toHaveCount(2);
    const failed = runs.first();
    await expect(failed).toHaveAttribute('data-outcome', 'failed');
    await expect(failed).toContainText('Failed');
    await expect(failed).toContainText('Manual');
    await expect(failed).toContainText('Unable to connect to server');
    const succeeded = runs.nth(1);
    await expect(succeeded).toHaveAttribute('data-outcome', 'success');
    await expect(succeeded).toContainText('Succeeded');

    const tooltip = failed.getByTestId('run-error-tooltip');
    await expect(tooltip).toBeHidden();
    await failed.getByTestId('run-error-info').click();
    await expect(tooltip).toBeVisible();
    await expect(tooltip.locator('strong')).toContainText('Check the central server URL');
    await expect(tooltip).toContainText(world.legacy.replace('http://', ''));
    await shoot(page, 'history-error');
    await expect(page.getByTestId('header-sync')).toHaveText('Sync failed');
  } finally {
    await page.close();
    for (const child of Object.values(world.children)) await stopProcess(child);
  }
});

test('see_the_badge_turn_to_warning_after_a_day', async ({ page, world }) => {
  await page.goto(world.site + '/sync');
  await page.getByTestId('sync-now').click();
  await expect(page.getByTestId('header-sync')).toHaveText(/Synced (now|just now|\d+ seconds? ago)/, { timeout: 30_000 });
  const badge = page.getByTestId('sync-badge');
  await expect(badge).toHaveCount(0);

  const day = 86_400_000;
  await page.clock.setFixedTime(Date.now() + 2 * day);
  await page.reload();
  await expect(badge).toHaveAttribute('data-level', 'warning');
  await expect(badge).toHaveAccessibleName(/over a day/);
  await expect(page.getByTestId('header-sync')).toHaveText('Synced 2 days ago');
  // The header and the badge are on every page, not only on the Sync page.
  await page.getByRole('link', { name: 'Store data' }).click();
  await expect(badge).toHaveAttribute('data-level', 'warning');
  await expect(page.getByTestId('header-sync')).toHaveText('Synced 2 days ago');

  await page.clock.setFixedTime(Date.now() + 4 * day);
  await page.reload();
  await expect(badge).toHaveAttribute('data-level', 'error');
});

test('the_badge_counts_records_waiting_and_one_poller_serves_the_whole_app', async ({ page, world }) => {
  const statusCalls: number[] = [];
  page.on('request', (r) => { if (r.url().endsWith('/api/sync/status')) statusCalls.push(Date.now()); });
  await page.goto(world.site + '/sync');
  await page.getByTestId('sync-now').click();
  await expect(page.getByTestId('header-sync')).toHaveText(/Synced/, { timeout: 30_000 });
  await page.goto(world.site + '/store-data');
  await signInAsAdmin(page);
  const locations = page.getByTestId('locations');
  await locations.getByRole('button', { name: /^Edit location/ }).first().click();
  await page.getByLabel('Name', { exact: true }).fill('Badge room');
  await page.getByRole('button', { name: 'Save location' }).click();
  await expect(locations.getByRole('cell', { name: 'Badge room', exact: true })).toBeVisible();
  // The next poll (within 10 s) shows it waiting.
  const badge = page.getByTestId('sync-badge');
  await expect(badge).toHaveText(/^1/, { timeout: 15_000 });
  await expect(badge).toHaveAttribute('data-level', 'info');
  // Header, badge and page together: still one status request per poll period.
  const start = Date.now();
  statusCalls.length = 0;
  await page.waitForTimeout(10_500);
  expect(statusCalls.length, `${statusCalls.length} status requests in ${Date.now() - start} ms`).toBeLessThanOrEqual(2);
});

test('open_the_qr_code_with_the_keyboard_and_get_focus_back', async ({ page, world }) => {
  await page.goto(world.site + '/sync');
  const opener = page.getByTestId('qr-open');
  await opener.focus();
  await page.keyboard.press('Enter');
  const dialog = page.getByRole('dialog', { name: /QR code/ });
  await expect(dialog).toBeVisible();
  const close = page.getByTestId('qr-close');
  await expect(close).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(close).toBeFocused();
  await page.keyboard.press('Shift+Tab');
  await expect(close).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(dialog).toBeHidden();
  await expect(opener).toBeFocused();
  // And with its close button.
  await page.keyboard.press('Enter');
  await expect(close).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(dialog).toBeHidden();
  await expect(opener).toBeFocused();
});

test('go_to_another_page_and_land_on_its_heading', async ({ page, world }) => {
  await page.goto(world.site + '/sync');
  await expect(page.getByRole('heading', { name: 'Synchronisation status' })).toBeVisible();
  await page.getByRole('link', { name: 'Synchronisation' }).click();
  const focused = page.locator(':focus');
  await expect(focused).toHaveAttribute('id', 'main');
  await page.getByRole('navigation').getByRole('link', { name: /^Sync/ }).last().click();
  await expect(page.getByRole('heading', { name: 'Synchronisation status' })).toBeFocused();
});

test('every_page_has_no_serious_accessibility_problems', async ({ browser, world }) => {
  test.setTimeout(240_000);
  for (const [size, locale] of [[SIZES[0], 'en-GB'], [PHONE, 'fr-FR']] as const) {
    const context = await browser.newContext({ viewport: size, locale });
    const page = await context.newPage();
    const serious = async (where: string) => {
      const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
      const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
      const found = bad.map((v) => `${where} ${size.width}px ${locale}: ${v.id} (${v.impact}) ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
      expect(found).toEqual([]);
    };
    await page.goto(world.site + '/sync');
    await page.getByTestId('sync-now').click();
    await expect(page.getByTestId('history-run').first()).toHaveAttribute('data-outcome', 'success', { timeout: 30_000 });
    await serious('sync');
    await page.getByTestId('qr-open').click();
    await serious('qr dialog');
    await page.keyboard.press('Escape');
    await page.goto(world.site + '/admin/sync');
    await expect(page.getByTestId('login-form')).toBeVisible();
    await serious('sign-in');
    await page.locator('#admin-password').fill(DEMO_ADMIN_PASSWORD);
    await page.locator('[data-testid="login-form"] button[type="submit"]').click();
    await expect(page.getByTestId('sign-out')).toBeVisible();
    await serious('settings');
    await page.goto(world.site + '/store-data');
    await expect(page.getByTestId('locations')).toBeVisible();
    await serious('store data');
    await page.goto(world.site + '/nowhere');
    await serious('not found');
    await context.close();
  }
});

test('use_the_page_on_a_phone', async ({ browser, world }) => {
  for (const locale of ['en-GB', 'fr-FR']) {
    const context = await browser.newContext({ viewport: PHONE, locale, hasTouch: true, isMobile: true });
    const page = await context.newPage();
    await page.goto(world.site + '/sync');
    const nav = page.getByRole('navigation');
    await expect(nav).toBeVisible();
    // The navigation is a bar along the bottom, not a rail taking half the screen.
    const navBox = (await nav.boundingBox())!;
    expect(navBox.width).toBeGreaterThanOrEqual(PHONE.width - 1);
    expect(navBox.y + navBox.height).toBeGreaterThanOrEqual(PHONE.height - 1);
    expect(navBox.height).toBeLessThan(100);
    await page.getByTestId('sync-now').tap();
    await expect(page.getByTestId('history-run').first()).toHaveAttribute('data-outcome', 'success', { timeout: 30_000 });
    const noSideScroll = () => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
    expect(await noSideScroll()).toBe(true);
    for (const target of await page.locator('button:visible, a:visible, select:visible, summary:visible').all()) {
      const box = (await target.boundingBox())!;
      const name = (await target.getAttribute('data-testid')) ?? (await target.innerText());
      expect(box.height, `${name} is ${box.height}px high`).toBeGreaterThanOrEqual(44);
      expect(box.width, `${name} is ${box.width}px wide`).toBeGreaterThanOrEqual(44);
    }
    await page.screenshot({ path: `${SHOTS}/phone-sync-${locale}-390x844.png`, fullPage: true });
    await page.getByTestId('qr-open').tap();
    await page.screenshot({ path: `${SHOTS}/phone-qr-${locale}-390x844.png` });
    await page.keyboard.press('Escape');
    await nav.getByRole('link').first().tap();
    await expect(page.getByTestId('login-form')).toBeVisible();
    expect(await noSideScroll()).toBe(true);
    await page.screenshot({ path: `${SHOTS}/phone-sign-in-${locale}-390x844.png`, fullPage: true });
    // Store data's wide tables scroll inside their cards; the page itself never does.
    await page.locator('#admin-password').fill(DEMO_ADMIN_PASSWORD);
    await page.locator('[data-testid="login-form"] button[type="submit"]').tap();
    await expect(page.getByTestId('locations')).toBeVisible();
    expect(await noSideScroll()).toBe(true);
    await page.screenshot({ path: `${SHOTS}/phone-store-data-${locale}-390x844.png` });
    await context.close();
  }
});
