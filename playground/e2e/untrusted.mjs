// Untrusted text stays text: every field the playground shows that someone else may have
// written (job data, results, error texts, dead-letter errors, workflow names, step ids, ids in
// the address, settings links) is fed an HTML payload through the real API of a running
// `boltq dev` and looked at in real headless Chromium: no element is created, no handler runs,
// the payload shows as text; settings links are only http(s). Then the API key's storage:
// this tab's session only unless "remember" is ticked.
// Usage: node e2e/untrusted.mjs BASE_URL ARTIFACT_DIR [CHECK...] (default: every check);
// prints "untrusted: CHECK passed" for each, then "untrusted: all passed".
import { mkdtempSync } from 'node:fs'
import { join } from 'node:path'
import {
  artifacts, base, check, launch, newProfile, removeProfile, TIMEOUT,
} from './harness.mjs'

const profile = newProfile()

// an <img> that, if it were ever parsed as HTML, would mark the page and name its field
const payload = (field) => `<img src=x data-xss=${field} onerror=window.__xss=1>`

async function api(method, path, body) {
  const resp = await fetch(`${base}/api/v1${path}`, {
    method, headers: body ? { 'Content-Type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  })
  const out = await resp.json()
  check(out.success, `${method} ${path}: ${JSON.stringify(out)}`)
  return out.data
}

async function until(what, fn) {
  const end = Date.now() + TIMEOUT
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

async function finishedJob(body, status) {
  const id = (await api('POST', '/jobs', body)).job_id
  await until(`job ${id}`, async () => (await api('GET', `/jobs/${id}`)).status === status)
  return id
}

async function finishedWorkflow(spec) {
  const id = (await api('POST', '/workflows', spec)).workflow_id
  await until(`workflow ${id}`, async () => ['failed', 'completed'].includes((await api('GET', `/workflows/${id}`)).status))
  return id
}

// the page's text shows `field`'s payload, and no payload became an element anywhere
async function textOnly(page, field, where) {
  await page.locator('main').filter({ hasText: payload(field) }).first().waitFor()
  const found = await page.evaluate(() => ({
    injected: [...document.querySelectorAll('[data-xss], [onerror]')].map((e) => e.outerHTML),
    ran: window.__xss,
    imgs: document.querySelectorAll('main img').length,
  }))
  check(found.injected.length === 0, `${where}: ${field} made elements: ${found.injected}`)
  check(found.ran === undefined, `${where}: a handler from ${field} ran`)
  check(found.imgs === 0, `${where}: an <img> appeared`)
}

const keyField = (p) => p.getByLabel('API key (x-api-key)')
const stores = (p) => p.evaluate(() => ({ local: JSON.stringify({ ...localStorage }), session: JSON.stringify({ ...sessionStorage }) }))

const CHECKS = {
  async 'job-data'(page) {
    const id = await finishedJob({ type: 'echo', data: { html: payload('data') } }, 'completed')
    await page.goto(`${base}/#/jobs/${id}`)
    await page.locator('[data-testid=job-status] [data-status=completed]').waitFor()
    check((await page.locator('[data-testid=job-data]').innerText()).includes(payload('data')), 'data as text')
    await textOnly(page, 'data', 'job page')
  },
  async results(page) {
    // echo's result is its data: the payload comes back as the job's result
    const id = await finishedJob({ type: 'echo', data: { out: payload('result') } }, 'completed')
    await page.goto(`${base}/#/jobs/${id}`)
    const result = page.locator('[data-testid=job-result]')
    await result.filter({ hasText: payload('result') }).waitFor()
    await textOnly(page, 'result', 'job page (result)')
  },
  async 'error-texts'(page) {
    const id = await finishedJob({ type: 'fail', data: { permanent: true, message: payload('error') } }, 'failed')
    await page.goto(`${base}/#/jobs/${id}`)
    check((await page.locator('[data-testid=job-error]').innerText()).includes(payload('error')), 'error as text')
    await textOnly(page, 'error', 'job page (error)')
    // an error the API answers with, about an id taken from the address
    await page.goto(`${base}/#/jobs/${encodeURIComponent(payload('route'))}`)
    await page.getByRole('alert').waitFor()
    await textOnly(page, 'route', 'unknown job page')
  },
  async 'dead-letter-errors'(page) {
    const id = await finishedJob({ type: 'fail', data: { permanent: true, message: payload('dlq') } }, 'failed')
    await page.goto(`${base}/#/dlq`)
    const row = page.locator(`tr[data-job-id="${id}"]`)
    await row.waitFor()
    check((await row.innerText()).includes(payload('dlq')), 'dead-letter list error as text')
    await textOnly(page, 'dlq', 'dead-letter list')
    await row.locator('button.link').click()
    await page.locator('[data-testid=dlq-detail]').filter({ hasText: payload('dlq') }).waitFor()
    await textOnly(page, 'dlq', 'dead-letter detail')
  },
  async 'workflow-names'(page) {
    const id = await finishedWorkflow({ name: payload('name'), steps: [{ job_type: 'echo', params: {} }] })
    await page.goto(`${base}/#/workflows`)
    await page.locator(`a[href="#/workflows/${id}"]`).waitFor()
    await textOnly(page, 'name', 'workflow list')
    await page.goto(`${base}/#/workflows/${id}`)
    await page.locator('[data-testid=workflow-status] [data-status=completed]').waitFor()
    check((await page.locator('h2').first().innerText()).includes(payload('name')), 'workflow name as text')
    await textOnly(page, 'name', 'workflow page')
  },
  async 'step-ids'(page) {
    const id = await finishedWorkflow({
      name: 'steps',
      steps: [
        { id: payload('step'), job_type: 'echo', params: { n: 1 } },
        { id: 'then-fail', job_type: 'fail', params: { permanent: true, message: payload('steperror') },
          depends_on: [payload('step')] },
      ],
    })
    await page.goto(`${base}/#/workflows/${id}`)
    await page.locator('[data-testid=workflow-status] [data-status=failed]').waitFor()
    await textOnly(page, 'step', 'workflow page (step id, depends on)')
    await textOnly(page, 'steperror', 'workflow page (step error)')
    const graph = await page.locator('svg').first().textContent()
    check(graph.includes(payload('step')), `the graph names the step as text: ${graph}`)
  },
  async 'settings-links'(page) {
    await page.goto(`${base}/#/settings`)
    await page.evaluate(() => localStorage.setItem('boltq.settings', JSON.stringify({
      grafanaUrl: 'javascript:window.__xss=1', prometheusUrl: 'data:text/html,<img src=x onerror=alert(1)>',
    })))
    await page.reload()
    await page.getByRole('heading', { name: 'Settings' }).waitFor()
    const hrefs = await page.locator('main a').evaluateAll((as) => as.map((a) => a.getAttribute('href')))
    check(hrefs.every((h) => /^https?:\/\//.test(h)), `only http(s) links: ${hrefs}`)
    check(await page.getByRole('link', { name: 'Grafana' }).count() === 0, 'no javascript: link')
    check(await page.getByRole('link', { name: 'Prometheus' }).count() === 0, 'no data: link')
    check((await page.locator('main').innerText()).includes('javascript:window.__xss=1'), 'the bad URL shows as text')
    await page.getByRole('link', { name: /API docs/ }).waitFor() // a good one still links
    check(await page.evaluate(() => window.__xss === undefined), 'nothing ran')
    await page.screenshot({ path: join(artifacts, 'untrusted-settings.png'), fullPage: true })
  },
  async 'key-for-the-session'(page, context) {
    await page.goto(`${base}/#/settings`)
    await keyField(page).fill('sekrit-session-key')
    await page.getByRole('button', { name: 'Save' }).click()
    await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor()
    const s = await stores(page)
    check(s.session.includes('sekrit-session-key') && !s.local.includes('sekrit'), `session only: ${JSON.stringify(s)}`)
    await page.reload()
    check(await keyField(page).inputValue() === 'sekrit-session-key', 'kept across a reload of the tab')
    const other = await context.newPage()
    await other.goto(`${base}/#/settings`)
    await other.getByRole('heading', { name: 'Settings' }).waitFor()
    check(await keyField(other).inputValue() === '', 'a new tab does not get it')
    await other.close()
  },
  async 'key-remembered'(page, context) {
    await page.goto(`${base}/#/settings`)
    await keyField(page).fill('sekrit-remembered-key')
    await page.getByLabel(/Remember the key/).check()
    await page.getByRole('button', { name: 'Save' }).click()
    let s = await stores(page)
    check(s.local.includes('sekrit-remembered-key') && !s.session.includes('sekrit'), `remembered: ${JSON.stringify(s)}`)
    const other = await context.newPage()
    await other.goto(`${base}/#/settings`)
    await other.getByRole('heading', { name: 'Settings' }).waitFor()
    check(await keyField(other).inputValue() === 'sekrit-remembered-key', 'a new tab gets the remembered key')
    check(await other.getByLabel(/Remember the key/).isChecked(), 'and shows it is remembered')
    await other.getByLabel(/Remember the key/).uncheck()
    await other.getByRole('button', { name: 'Save' }).click()
    s = await stores(other)
    check(!s.local.includes('sekrit'), `forgotten by this browser: ${JSON.stringify(s)}`)
    await other.close()
  },
}

const wanted = process.argv.slice(4).length ? process.argv.slice(4) : Object.keys(CHECKS)
let failed = false
for (const name of wanted) {
  if (!CHECKS[name]) {
    console.error(`unknown check ${name} (known: ${Object.keys(CHECKS).join(', ')})`)
    process.exit(2)
  }
}
// a fresh browser profile per check: no storage carries over from one to the next
for (const name of wanted) {
  const dir = mkdtempSync(join(profile, `${name}-`))
  const context = await launch(dir)
  const page = context.pages()[0] || (await context.newPage())
  page.setDefaultTimeout(TIMEOUT)
  try {
    await CHECKS[name](page, context)
    console.log(`untrusted: ${name} passed`)
  } catch (err) {
    failed = true
    console.error(`untrusted: ${name} FAILED: ${String(err && err.stack ? err.stack : err)}`)
    await page.screenshot({ path: join(artifacts, `untrusted-${name}-failure.png`), fullPage: true }).catch(() => {})
  } finally {
    await context.close().catch(() => {})
  }
}
removeProfile(profile)
if (!failed) console.log('untrusted: all passed')
process.exit(failed ? 1 : 0)
