// End-to-end check of the playground in real headless Chromium (playwright-core + the system
// chromium) against a running `boltq dev`. Usage: node e2e/run.mjs BASE_URL [ARTIFACT_DIR]
// Exits non-zero on the first failed expectation. Screenshots go to ARTIFACT_DIR.
import { join } from 'node:path'
import {
  apiGet, artifacts, base, check, launch, newProfile, removeProfile, TIMEOUT,
} from './harness.mjs'

const profile = newProfile()

const origin = new URL(base)
const offsite = []
const pageErrors = []

const context = await launch(profile)
let failed = false
try {
  // the page must not load anything from anywhere but the BoltQ it talks to
  await context.route('**/*', (route) => {
    const u = new URL(route.request().url())
    if (u.host !== origin.host && !['data:', 'blob:'].includes(u.protocol)) {
      offsite.push(u.href)
      return route.abort()
    }
    return route.continue()
  })
  const page = context.pages()[0] || (await context.newPage())
  page.setDefaultTimeout(TIMEOUT)
  page.on('pageerror', (err) => pageErrors.push(String(err)))
  page.on('console', (msg) => { if (msg.type() === 'error') pageErrors.push(`${msg.text()} (${msg.location().url})`) })
  const shot = async (name) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true })
  const step = (name) => console.log(`e2e: ${name}`)
  const jobIdFromUrl = () => decodeURIComponent(new URL(page.url()).hash.split('/')[2] || '')

  step('open the playground; the WebSocket connects')
  await page.goto(`${base}/`)
  await page.locator('[data-testid=connection][data-state=open]').waitFor()
  await shot('submit')

  step('submit an echo job through the form and see it complete without reloading')
  await page.getByRole('button', { name: 'echo', exact: true }).click()
  await page.locator('textarea[name=data]').fill('{"message": "hi <b>there</b>", "html": "<img src=x onerror=\\"window.__xss=1\\">"}')
  await page.getByRole('button', { name: 'Submit job' }).click()
  await page.waitForURL(/#\/jobs\/[0-9a-f-]+$/)
  const echoId = jobIdFromUrl()
  await page.locator('[data-testid=job-status] [data-status=completed]').waitFor()
  const result = await page.locator('[data-testid=job-result]').innerText()
  check(result.includes('hi <b>there</b>'), `echo result shown as text: ${result}`)
  check(await page.evaluate(() => window.__xss === undefined), 'job data is escaped (no script ran)')
  check(await page.locator('main img').count() === 0, 'no <img> injected from job data')
  await shot('job-completed')
  check((await apiGet(`/jobs/${echoId}`)).status === 'completed', 'API agrees the echo job completed')

  step('invalid JSON is refused before sending')
  await page.goto(`${base}/#/submit`)
  await page.locator('textarea[name=data]').fill('{not json')
  await page.getByRole('button', { name: 'Submit job' }).click()
  await page.getByRole('alert').filter({ hasText: 'not valid JSON' }).waitFor()

  step('submit a sleep job and cancel it')
  await page.getByRole('button', { name: 'sleep', exact: true }).click()
  await page.locator('textarea[name=data]').fill('{"seconds": 30}')
  await page.getByRole('button', { name: 'Submit job' }).click()
  await page.waitForURL(/#\/jobs\/[0-9a-f-]+$/)
  const sleepId = jobIdFromUrl()
  check(sleepId !== echoId, 'a new job id')
  await page.locator('[data-testid=job-status] [data-status=running]').waitFor()
  await page.locator('[data-testid=job-progress] progress').waitFor() // pushed progress
  await page.getByRole('button', { name: 'Cancel', exact: true }).click()
  await page.locator('[data-testid=job-status] [data-status=cancelled]').waitFor()
  await shot('job-cancelled')
  check((await apiGet(`/jobs/${sleepId}`)).status === 'cancelled', 'API agrees the sleep job is cancelled')

  step('the jobs list shows both jobs')
  await page.goto(`${base}/#/jobs`)
  await page.locator(`tr[data-job-id="${echoId}"] [data-status=completed]`).waitFor()
  await page.locator(`tr[data-job-id="${sleepId}"] [data-status=cancelled]`).waitFor()
  await shot('jobs')

  step('build a two-step workflow and see both steps complete in the graph')
  await page.goto(`${base}/#/workflows`)
  await page.locator('input[name=wf-name]').fill('e2e-two-steps')
  await page.getByLabel('step 1 params').fill('{"n": 1}')
  await page.getByRole('button', { name: 'Add step' }).click()
  check(await page.getByLabel('step 2 depends on step-1').isChecked(), 'step 2 depends on step 1')
  await page.getByLabel('step 2 job type').fill('echo')
  await page.getByRole('button', { name: 'Submit workflow' }).click()
  await page.waitForURL(/#\/workflows\/[0-9a-f-]+$/)
  const wfId = jobIdFromUrl()
  await page.locator('[data-testid="step-step-1"][data-status=completed]').waitFor()
  await page.locator('[data-testid="step-step-2"][data-status=completed]').waitFor()
  await page.locator('[data-testid=workflow-status] [data-status=completed]').waitFor()
  await shot('workflow')
  check((await apiGet(`/workflows/${wfId}`)).status === 'completed', 'API agrees the workflow completed')
  await page.goto(`${base}/#/workflows`)
  await page.locator(`a[href="#/workflows/${wfId}"]`).waitFor()
  await shot('workflows')

  step('delete the workflow from its page, after confirming')
  await page.goto(`${base}/#/workflows/${wfId}`)
  await page.getByRole('button', { name: 'Delete…' }).click()
  await page.getByRole('button', { name: 'Yes, delete' }).click()
  await page.waitForURL(/#\/workflows$/)
  const gone = await fetch(`${base}/api/v1/workflows/${wfId}`)
  check(gone.status === 404, `the deleted workflow answers 404 (got ${gone.status})`)
  check(await page.locator(`a[href="#/workflows/${wfId}"]`).count() === 0, 'the list no longer shows it')

  step('a permanent failure lands in the dead-letter page; requeue it from the UI')
  await page.goto(`${base}/#/submit`)
  await page.locator('input[name=type]').fill('fail')
  await page.locator('textarea[name=data]').fill('{"permanent": true}')
  await page.getByRole('button', { name: 'Submit job' }).click()
  await page.waitForURL(/#\/jobs\/[0-9a-f-]+$/)
  const failId = jobIdFromUrl()
  await page.locator('[data-testid=job-status] [data-status=failed]').waitFor()
  await page.locator('[data-testid=job-error]').waitFor()
  await page.goto(`${base}/#/dlq`)
  const row = page.locator(`tr[data-job-id="${failId}"]`)
  await row.waitFor()
  await row.locator('button.link').click()
  await page.locator('[data-testid=dlq-detail]').filter({ hasText: 'permanent' }).waitFor()
  await shot('dead-letters')
  const before = (await apiGet('/queues/stats')).totals.requeued || 0
  await row.getByRole('button', { name: 'Requeue' }).click()
  await page.getByRole('status').filter({ hasText: `Requeued ${failId}` }).waitFor()
  const after = (await apiGet('/queues/stats')).totals.requeued || 0
  check(after === before + 1, `requeued total went from ${before} to ${after}`)
  // it runs again (attempts reset or grow) and, being permanent, fails again
  const deadline = Date.now() + TIMEOUT
  let again
  while (Date.now() < deadline) {
    again = await apiGet(`/jobs/${failId}`)
    if (again.status === 'failed' && again.finished_at) break
    await new Promise((r) => setTimeout(r, 200))
  }
  check(again && again.status === 'failed', 'the requeued job ran again')

  step('queues page shows live statistics and the throughput chart')
  await page.goto(`${base}/#/queues`)
  await page.locator('[data-testid=queue-stats]').waitFor()
  await page.locator('[data-testid=throughput-chart]').waitFor()
  await shot('queues')

  step('settings page')
  await page.goto(`${base}/#/settings`)
  await page.getByRole('link', { name: 'Grafana' }).waitFor()
  await shot('settings')

  check(offsite.length === 0, `the page loaded nothing off-site: ${offsite.join(', ')}`)
  check(pageErrors.length === 0, `no page errors: ${pageErrors.join(' | ')}`)
  console.log('e2e: all passed')
} catch (err) {
  failed = true
  console.error(String(err && err.stack ? err.stack : err))
  for (const p of context.pages()) {
    await p.screenshot({ path: join(artifacts, 'failure.png'), fullPage: true }).catch(() => {})
  }
  if (pageErrors.length) console.error('page errors:', pageErrors.join(' | '))
} finally {
  await context.close().catch(() => {})
  removeProfile(profile)
}
process.exit(failed ? 1 : 0)
