// End-to-end check of the playground's Schedules page in real headless Chromium against a
// running `boltq dev`: list with next run, create (every N seconds and cron), pause, run now,
// resume, delete. Usage: node e2e/schedules.mjs BASE_URL [ARTIFACT_DIR]
import { join } from 'node:path'
import {
  apiStatus, artifacts, base, check, scenario, TIMEOUT,
} from './harness.mjs'


await scenario('schedules', async (page, step) => {
  const row = (name) => page.locator(`tr[data-schedule="${name}"]`)

  step('the schedules page starts empty')
  await page.goto(`${base}/#/schedules`)
  await page.locator('[data-testid=schedules-empty]').waitFor()

  step('a bad name is refused with the field named, shown as text')
  await page.locator('input[name=schedule-name]').fill('<img src=x onerror="window.__xss=1">')
  await page.getByRole('button', { name: 'Save schedule' }).click()
  await page.getByRole('alert').filter({ hasText: 'name:' }).waitFor()
  check(await page.locator('main img').count() === 0, 'nothing injected')

  step('create an every-second schedule; it lists its next run and runs')
  await page.locator('input[name=schedule-name]').fill('e2e-every')
  await page.locator('input[name=every]').fill('1')
  await page.getByRole('button', { name: 'Save schedule' }).click()
  await page.getByRole('status').filter({ hasText: 'Saved e2e-every' }).waitFor()
  await row('e2e-every').locator('[data-testid=next-run] time').waitFor()
  check((await row('e2e-every').innerText()).includes('every 1 s'), 'the row says when it runs')
  const deadline = Date.now() + TIMEOUT
  while (Number(await row('e2e-every').locator('[data-testid=runs]').innerText()) < 1) {
    check(Date.now() < deadline, 'the schedule ran')
    await new Promise((r) => setTimeout(r, 200))
  }

  step('create a cron schedule in a time zone')
  await page.locator('input[name=schedule-name]').fill('e2e-cron')
  await page.locator('select[name=kind]').selectOption('cron')
  await page.locator('input[name=cron]').fill('30 2 * * *')
  await page.locator('input[name=timezone]').fill('Europe/Berlin')
  await page.getByRole('button', { name: 'Save schedule' }).click()
  await row('e2e-cron').filter({ hasText: 'cron 30 2 * * * (Europe/Berlin)' }).waitFor()

  step('pause, run now, resume')
  await row('e2e-every').getByRole('button', { name: 'Pause' }).click()
  await row('e2e-every').locator('[data-testid=state]').filter({ hasText: 'paused' }).waitFor()
  check((await apiStatus('/schedules/e2e-every'))[1].paused === true, 'the API agrees it is paused')
  await row('e2e-every').getByRole('button', { name: 'Run now' }).click()
  await page.getByRole('status').filter({ hasText: 'Triggered e2e-every' }).waitFor()
  await row('e2e-every').getByRole('button', { name: 'Resume' }).click()
  await row('e2e-every').locator('[data-testid=state]').filter({ hasText: 'active' }).waitFor()
  await page.screenshot({ path: join(artifacts, 'schedules.png'), fullPage: true })

  step('delete after confirming')
  await row('e2e-every').getByRole('button', { name: 'Delete…' }).click()
  await page.getByRole('button', { name: 'Yes, delete' }).click()
  await page.getByRole('status').filter({ hasText: 'Deleted e2e-every' }).waitFor()
  // the list shows what it read last until its next read (on a loaded machine a moment later)
  await row('e2e-every').waitFor({ state: 'detached' }).catch(() => {})
  check(await row('e2e-every').count() === 0, 'the list no longer shows it')
  check((await apiStatus('/schedules/e2e-every'))[0] === 404, 'the API answers 404 for it')

  check(await page.evaluate(() => window.__xss === undefined), 'no script ran')
})
