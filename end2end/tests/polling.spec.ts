// The Sync page polls every second while a run is active, not at all while the tab is
// hidden, and at once when it comes back.
import type { Page } from '@playwright/test';
import { test, expect, startWorld, stopWorld } from './world';

async function setHidden(page: Page, hidden: boolean) {
  await page.evaluate((h) => {
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => h });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}

test('polls_each_second_during_a_run_never_while_hidden_and_at_once_when_visible_again', async ({ page }) => {
  const world = await startWorld(['--link-delay-ms', '500']);
  try {
    const polls: number[] = [];
    page.on('request', (r) => { if (r.url().endsWith('/api/sync/status')) polls.push(Date.now()); });
    await page.goto(world.site + '/sync');
    await page.getByTestId('sync-now').click();
    await expect(page.getByRole('status', { name: 'Syncing' })).toBeVisible();

    // Active run: about one poll a second.
    let from = polls.length;
    await page.waitForTimeout(3_000);
    expect(polls.length - from).toBeGreaterThanOrEqual(2);
    expect(polls.length - from).toBeLessThanOrEqual(5);

    // Hidden: silence, even though the run goes on.
    await setHidden(page, true);
    await page.waitForTimeout(400);
    from = polls.length;
    await page.waitForTimeout(2_500);
    expect(polls.length - from).toBe(0);

    // Visible again: a poll straight away.
    const back = Date.now();
    await setHidden(page, false);
    await expect.poll(() => polls.filter((t) => t >= back).length, { timeout: 1_000 }).toBeGreaterThan(0);
  } finally {
    await stopWorld(world);
  }
});
