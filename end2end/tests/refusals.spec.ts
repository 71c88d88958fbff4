// A record the central refuses (its id already belongs to another site's store) is set aside
// with the central's reason and listed as sent beside received ones; the run still succeeds.
import { test, expect, startSplitWorld, stopProcess } from './world';

test('a_location_the_central_refuses_is_listed_as_sent_with_its_reason_and_the_run_succeeds', async ({ page }) => {
  const world = await startSplitWorld();
  try {
    await page.goto(world.site + '/sync');
    await expect(page.getByTestId('last-successful-sync')).toHaveText(/ago/, { timeout: 30_000 });
    world.legacyAdmin(['add-site', '--name', 'other-site', '--password', 'other', '--store', 'other_store']);
    const theirs = { ID: 'LOC_TAKEN', code: 'T1', Description: 'theirs', store_ID: 'other_store', hold: false };
    world.legacyAdmin(['upsert', '--table', 'Location', '--json', JSON.stringify(theirs)]);

    // This site makes a location with the same id in its own store.
    const login = await fetch(world.site + '/api/session', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ password: 'e2e-admin-password' }),
    });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
    const made = await fetch(world.site + '/api/store-data/locations', {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie, 'x-outpost-csrf': '1' },
      body: JSON.stringify({ id: 'LOC_TAKEN', storeId: 'split_store', code: 'M1', name: 'mine' }),
    });
    expect(made.ok).toBeTruthy();

    await page.getByTestId('sync-now').click();
    const quarantine = page.getByTestId('quarantine');
    await expect(quarantine).toBeVisible({ timeout: 30_000 });
    await expect(page.getByTestId('sync-error')).toHaveCount(0);
    await quarantine.locator('summary').click();
    const row = quarantine.getByRole('row', { name: /LOC_TAKEN/ });
    await expect(row).toContainText('Sent');
    await expect(row).toContainText('belongs to store other_store');
  } finally {
    for (const child of Object.values(world.children)) await stopProcess(child);
  }
});
