// End-to-end check of the playground's named queues in real headless Chromium against a
// running `boltq dev`: submit into a named queue from the form, see the queue listed, pause it
// (its job waits, pending), resume it (the job completes), list the queue's jobs.
// Usage: node e2e/queues.mjs BASE_URL [ARTIFACT_DIR]
import { join } from 'node:path'
import {
  apiStatus, artifacts, base, check, scenario, until,
} from './harness.mjs'

const QUEUE = 'e2e-mail'

await scenario('queues', async (page, step) => {
  const row = page.locator(`tr[data-queue="${QUEUE}"]`)
  const cell = (id) => row.locator(`[data-testid=${id}]`)

  step('a bad queue name is refused on the form, as text, without a request')
  await page.goto(`${base}/#/submit`)
  await page.locator('input[name=queue]').fill('<img src=x onerror="window.__xss=1">')
  await page.getByRole('button', { name: 'Submit job' }).click()
  await page.getByRole('alert').filter({ hasText: 'Queue must be 1 to 64' }).waitFor()
  check(await page.locator('main img').count() === 0, 'nothing injected')
  check((await apiStatus('/queues'))[1].queues.every((q) => q.name !== '<img src=x onerror="window.__xss=1">'), 'nothing submitted')

  step(`submit a delayed echo job into ${QUEUE} from the form`)
  await page.locator('input[name=queue]').fill(QUEUE)
  await page.locator('input[name=delay]').fill('4')
  await page.getByRole('button', { name: 'Submit job' }).click()
  await page.locator('[data-testid=job-queue]').filter({ hasText: QUEUE }).waitFor()
  const jobId = decodeURIComponent(new URL(page.url()).hash.replace('#/jobs/', ''))
  check(jobId.startsWith(`${QUEUE}:`), `the job's id names its queue: ${jobId}`)

  step('the queue is listed; pause it before the job is due')
  await page.goto(`${base}/#/queues`)
  await row.waitFor()
  await row.getByRole('button', { name: 'Pause' }).click()
  await cell('state').filter({ hasText: 'paused' }).waitFor()
  check((await apiStatus(`/queues/${QUEUE}`))[1].paused === true, 'the API agrees it is paused')

  step('once due, the job waits in the paused queue: pending 1')
  await cell('pending').filter({ hasText: /^1$/ }).waitFor()
  await new Promise((r) => setTimeout(r, 1500)) // time a worker would need to claim it
  check((await apiStatus(`/jobs/${jobId}`))[1].status === 'pending', 'no worker claimed it while paused')
  check(await cell('pending').innerText() === '1', 'still pending')
  await page.screenshot({ path: join(artifacts, 'queues.png'), fullPage: true })

  step('resume it; the job completes')
  await row.getByRole('button', { name: 'Resume' }).click()
  await cell('state').filter({ hasText: 'active' }).waitFor()
  await until('the job completed', async () => (await apiStatus(`/jobs/${jobId}`))[1].status === 'completed')
  await cell('pending').filter({ hasText: /^0$/ }).waitFor()

  step("the jobs list shows the queue's jobs")
  await page.goto(`${base}/#/jobs`)
  await page.locator('select[aria-label="queue filter"] option', { hasText: QUEUE }).waitFor({ state: 'attached' })
  await page.locator('select[aria-label="queue filter"]').selectOption(QUEUE)
  const jobRow = page.locator(`tr[data-job-id="${jobId}"]`)
  await jobRow.locator('[data-status=completed]').waitFor()
  check(await jobRow.locator('[data-testid=job-queue]').innerText() === QUEUE, 'the row names its queue')

  check(await page.evaluate(() => window.__xss === undefined), 'no script ran')
})
