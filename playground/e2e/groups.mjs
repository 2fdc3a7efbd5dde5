// End-to-end check of the playground's groups in real headless Chromium against a running
// `boltq dev`: submit a job with a group (its name holds a '/') from the form, see the group on
// the Queues page, set the queue's default limits and the group's own, clear them again, and a
// bad group name refused as text.
// Usage: node e2e/groups.mjs BASE_URL [ARTIFACT_DIR]
import { join } from 'node:path'
import {
  apiGet, apiStatus, artifacts, base, check, scenario, until,
} from './harness.mjs'

const QUEUE = 'e2e-groups'
const GROUP = 'team/a@x'
const BAD = '<img src=x onerror="window.__xss=1">'

const groupOf = async () => (await apiGet(`/queues/${QUEUE}/groups`)).items.find((g) => g.name === GROUP)

await scenario('groups', async (page, step) => {

  step(`pause ${QUEUE} (its jobs stay ready), submit a job of group ${GROUP} from the form`)
  const paused = await fetch(`${base}/api/v1/queues/${QUEUE}/pause`, { method: 'POST' })
  check(paused.status === 200, `pause: ${paused.status}`)
  await page.goto(`${base}/#/submit`)
  await page.locator('input[name=group]').fill(BAD)
  await page.getByRole('button', { name: 'Submit job' }).click()
  await page.getByRole('alert').filter({ hasText: 'Group must be 1 to 128' }).waitFor()
  await page.locator('input[name=queue]').fill(QUEUE)
  await page.locator('input[name=group]').fill(GROUP)
  await page.getByRole('button', { name: 'Submit job' }).click()
  await page.locator('[data-testid=job-group]').filter({ hasText: GROUP }).waitFor()
  const jobId = decodeURIComponent(new URL(page.url()).hash.replace('#/jobs/', ''))
  check((await apiStatus(`/jobs/${jobId}`))[1].group === GROUP, 'the API has the job\'s group')

  step('the Queues page lists the queue\'s groups')
  await page.goto(`${base}/#/queues`)
  const select = page.locator('select[aria-label="groups of queue"]')
  await select.locator('option', { hasText: QUEUE }).waitFor({ state: 'attached' })
  await select.selectOption(QUEUE)
  const row = page.locator(`[data-groups-of="${QUEUE}"] tr[data-group="${GROUP}"]`)
  await row.locator('[data-testid=ready]').filter({ hasText: /^1$/ }).waitFor()
  check(await row.locator('[data-testid=limits]').innerText() === 'none (default)', 'no limits yet')

  step('set the queue\'s default limits')
  const defaults = page.getByRole('form', { name: 'default limits' })
  await defaults.locator('input[name=queue-concurrency]').fill('2')
  await defaults.getByRole('button', { name: 'Save default limits' }).click()
  await page.locator('[data-testid=default-limits]').filter({ hasText: /^concurrency 2$/ }).waitFor()
  check((await apiGet(`/queues/${QUEUE}`)).limits.group_concurrency === 2, 'the API has the default')
  await row.locator('[data-testid=limits]').filter({ hasText: 'concurrency 2 (default)' }).waitFor()

  step('give the group limits of its own (a \'/\' in its name goes as %2F), then clear them')
  await row.getByRole('button', { name: 'Edit' }).click()
  const own = page.getByRole('form', { name: 'group limits' })
  check(await own.locator('input[name=group]').inputValue() === GROUP, 'the form names the group')
  await own.locator('input[name=group-rate-max]').fill('5')
  await own.locator('input[name=group-rate-per]').fill('60')
  await own.getByRole('button', { name: 'Save group limits' }).click()
  await row.locator('[data-testid=limits]').filter({ hasText: 'concurrency 2, rate 5 / 60 s (own)' }).waitFor()
  const stored = await groupOf()
  check(stored.own_limits && stored.limits.group_rate.max === 5, `the API has its own: ${JSON.stringify(stored)}`)
  await page.screenshot({ path: join(artifacts, 'groups.png'), fullPage: true })
  await row.getByRole('button', { name: 'Clear own limits' }).click()
  await row.locator('[data-testid=limits]').filter({ hasText: 'concurrency 2 (default)' }).waitFor()
  check((await groupOf()).own_limits === false, 'the API has them cleared')

  step('a bad group name is refused as text, without a request')
  await own.locator('input[name=group]').fill(BAD)
  await own.getByRole('button', { name: 'Save group limits' }).click()
  await page.getByRole('alert').filter({ hasText: 'Group must be 1 to 128' }).waitFor()
  check(await page.locator('main img').count() === 0, 'nothing injected')

  step('resume the queue: the job completes')
  await fetch(`${base}/api/v1/queues/${QUEUE}/resume`, { method: 'POST' })
  await until('the job completed', async () => (await apiStatus(`/jobs/${jobId}`))[1].status === 'completed')

  check(await page.evaluate(() => window.__xss === undefined), 'no script ran')
})
