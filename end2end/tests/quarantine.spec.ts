// A record the site cannot apply is set aside with its reason, the rest of the run goes on,
// and once the central fixes it the record is applied and the list empties.
import { test, expect, startSplitWorld, stopProcess } from './world';

test('a_bad_record_is_listed_with_its_reason_and_clears_after_the_central_fixes_it', async ({ page }) => {
  const world = await startSplitWorld();
  try {
    await page.goto(world.site + '/sync');
    await expect(page.getByTestId('last-successful-sync')).toHaveText(/ago/, { timeout: 30_000 });

    const good = { ID: 'ITEM_GOOD', item_name: 'Paracetamol 500mg', code: 'PARA500', type_of: 'general', default_pack_size: 100 };
    const bad = { ID: 'ITEM_BAD', item_name: 'Amoxicillin 250mg', code: 'AMOX250', type_of: 'general', default_pack_size: 'a box' };
    world.legacyAdmin(['upsert', '--table', 'item', '--json', JSON.stringify(good)]);
    world.legacyAdmin(['upsert', '--table', 'item', '--json', JSON.stringify(bad)]);

    await page.getByTestId('sync-now').click();
    const quarantine = page.getByTestId('quarantine');
    await expect(quarantine).toBeVisible({ timeout: 30_000 });
    // The run itself succeeded: one bad record does not block the others.
    await expect(page.getByTestId('sync-error')).toHaveCount(0);
    await quarantine.locator('summary').click();
    const row = quarantine.getByRole('row', { name: /ITEM_BAD/ });
    await expect(row).toBeVisible();
    await expect(row).toContainText('default_pack_size');
    await expect(quarantine.getByRole('row', { name: /ITEM_GOOD/ })).toHaveCount(0);

    world.legacyAdmin(['upsert', '--table', 'item', '--json', JSON.stringify({ ...bad, default_pack_size: 20 })]);
    await page.getByTestId('sync-now').click();
    await expect(quarantine).toBeHidden({ timeout: 30_000 });
  } finally {
    for (const child of Object.values(world.children)) await stopProcess(child);
  }
});
