// An old last successful sync is called out: a warning after a day, an error look after three.
// The browser's clock is the fake here (a true seam); the server's times are real.
import { test, expect } from './world';

test('last_successful_sync_warns_after_a_day_and_alarms_after_three', async ({ page, world }) => {
  await page.goto(world.site + '/sync');
  await page.getByTestId('sync-now').click();
  const last = page.getByTestId('last-successful-sync');
  await expect(last).toHaveText(/just now|seconds? ago/, { timeout: 30_000 });
  await expect(last).not.toHaveClass(/age-/);

  const day = 86_400_000;
  await page.clock.setFixedTime(Date.now() + 2 * day);
  await page.reload();
  await expect(last).toHaveText(/2 days ago.*over a day ago/);
  await expect(last).toHaveClass(/age-warning/);

  await page.clock.setFixedTime(Date.now() + 4 * day);
  await page.reload();
  await expect(last).toHaveText(/4 days ago.*over 3 days ago/);
  await expect(last).toHaveClass(/age-error/);
});
