// The app shell: it loads cleanly, the navigation offers Sync, and the server's QR code can be
// enlarged and closed again.
import { test, expect, watchConsole } from './world';

test('open_the_app_without_console_errors', async ({ page, world }) => {
  const errors = watchConsole(page);
  await page.goto(world.site + '/');
  await expect(page).toHaveURL(/\/sync$/);
  await expect(page.getByRole('heading', { name: 'Synchronisation status' })).toBeVisible();
  await expect(page.getByTestId('server-url')).toHaveText(world.site);
  expect(errors).toEqual([]);
});

test('navigation_shows_sync_in_its_lower_section', async ({ page, world }) => {
  await page.goto(world.site + '/store-data');
  const nav = page.getByRole('navigation', { name: 'Main' });
  const sync = nav.locator('.nav-lower').getByRole('link', { name: 'Sync' });
  await expect(sync).toBeVisible();
  await expect(nav.getByRole('link', { name: 'Synchronisation' })).toBeVisible();
  await expect(nav.getByRole('link', { name: 'Store data' })).toBeVisible();
  await sync.click();
  await expect(page).toHaveURL(/\/sync$/);
  await expect(sync).toHaveAttribute('aria-current', 'page');
});

test('click_qr_code_to_enlarge_and_press_escape_to_close', async ({ page, world }) => {
  await page.goto(world.site + '/sync');
  const small = page.getByRole('button', { name: /larger QR code/ });
  await expect(small.locator('svg')).toBeVisible();
  await small.click();
  const dialog = page.getByRole('dialog', { name: /QR code/ });
  await expect(dialog).toBeVisible();
  const box = await dialog.locator('.qr-large svg').boundingBox();
  expect(box!.width).toBeGreaterThan(200);
  await page.keyboard.press('Escape');
  await expect(dialog).toBeHidden();
});

test('click_outside_the_enlarged_qr_code_closes_it', async ({ page, world }) => {
  await page.goto(world.site + '/sync');
  await page.getByRole('button', { name: /larger QR code/ }).click();
  const dialog = page.getByRole('dialog', { name: /QR code/ });
  await expect(dialog).toBeVisible();
  await page.mouse.click(5, 700);
  await expect(dialog).toBeHidden();
});
