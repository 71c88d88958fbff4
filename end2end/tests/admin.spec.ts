// Changing things needs the site's admin: the pages ask for the admin password, refuse a wrong
// one with the server's message, and sign out again.
import { test, expect, signInAsAdmin } from './world';

test('settings_ask_for_the_admin_password_and_refuse_a_wrong_one', async ({ page, world }) => {
  await page.goto(world.site + '/admin/sync');
  await expect(page.getByTestId('login-form')).toBeVisible();
  await expect(page.getByLabel('Central server URL')).toHaveCount(0);

  await page.getByLabel('Admin password').fill('not-the-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('login-form').getByRole('alert')).not.toBeEmpty();
  await expect(page.getByLabel('Central server URL')).toHaveCount(0);

  await signInAsAdmin(page);
  await expect(page.getByLabel('Central server URL')).toBeVisible();
  await page.getByTestId('sign-out').click();
  await expect(page.getByTestId('login-form')).toBeVisible();
});
