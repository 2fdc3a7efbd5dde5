// Untrusted text stays text: every field the playground shows that someone else may have
// written (job data, results, error texts, workflow names, step ids, dead-letter errors, ids in
// the address, settings links) is fed an HTML payload through the real API of a running
// `boltq dev` and looked at in real headless Chromium: no element is created, no handler runs,
// the payload shows as text; settings links are only http(s). Then the API key's storage:
// this tab's session only unless "remember" is ticked.
// Usage: node e2e/untrusted.mjs BASE_URL [ARTIFACT_DIR]; prints "untrusted: all passed".
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'

const base = (process.argv[2] || 'http://127.0.0.1:8080').replace(/\/$/, '')
const artifacts = process.argv[3] || join(process.cwd(), '..', 'test-artifacts', 'playground')
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium'
mkdirSync(artifacts, { recursive: true })
const profile = mkdtempSync(join(tmpdir(), 'boltq-chromium-'))
const TIMEOUT = 30000

// an <img> that, if it were ever parsed as HTML, would mark the page and name its field
const payload = (field) => `<img src=x data-xss=${field} onerror=window.__xss=1>`

function check(cond, message) {
  if (!cond) throw new Error(`expectation failed: ${message}`)
}

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

const context = await chromium.launchPersistentContext(profile, {
  executablePath,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic'],
  viewport: { width: 1280, height: 900 },
})
let failed = false
try {
  const page = context.pages()[0] || (await context.newPage())
  page.setDefaultTimeout(TIMEOUT)
  const step = (name) => console.log(`untrusted: ${name}`)

  // the page's whole text shows `field`'s payload, and no payload became an element anywhere
  async function textOnly(field, where) {
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

  step('job data and its result')
  const echo = (await api('POST', '/jobs', { type: 'echo', data: { html: payload('data') } })).job_id
  await until('the echo job', async () => (await api('GET', `/jobs/${echo}`)).status === 'completed')
  await page.goto(`${base}/#/jobs/${echo}`)
  await page.locator('[data-testid=job-status] [data-status=completed]').waitFor()
  check((await page.locator('[data-testid=job-data]').innerText()).includes(payload('data')), 'data as text')
  check((await page.locator('[data-testid=job-result]').innerText()).includes(payload('data')), 'result as text')
  await textOnly('data', 'job page')

  step('a job\'s error text, and the dead-letter page\'s')
  const fail = (await api('POST', '/jobs', { type: 'fail', data: { permanent: true, message: payload('error') } })).job_id
  await until('the failing job', async () => (await api('GET', `/jobs/${fail}`)).status === 'failed')
  await page.goto(`${base}/#/jobs/${fail}`)
  check((await page.locator('[data-testid=job-error]').innerText()).includes(payload('error')), 'error as text')
  await textOnly('error', 'job page (error)')
  await page.goto(`${base}/#/dlq`)
  const row = page.locator(`tr[data-job-id="${fail}"]`)
  await row.waitFor()
  check((await row.innerText()).includes(payload('error')), 'dead-letter list error as text')
  await textOnly('error', 'dead-letter list')
  await row.locator('button.link').click()
  await page.locator('[data-testid=dlq-detail]').filter({ hasText: payload('error') }).waitFor()
  await textOnly('error', 'dead-letter detail')

  step('workflow names, step ids, what they depend on, step errors')
  const wf = (await api('POST', '/workflows', {
    name: payload('name'),
    steps: [
      { id: payload('step'), job_type: 'echo', params: { n: 1 } },
      { id: 'then-fail', job_type: 'fail', params: { permanent: true, message: payload('steperror') },
        depends_on: [payload('step')] },
    ],
  })).workflow_id
  await until('the workflow', async () => ['failed', 'completed'].includes((await api('GET', `/workflows/${wf}`)).status))
  await page.goto(`${base}/#/workflows`)
  await page.locator(`a[href="#/workflows/${wf}"]`).waitFor()
  await textOnly('name', 'workflow list')
  await page.goto(`${base}/#/workflows/${wf}`)
  await page.locator('[data-testid=workflow-status] [data-status=failed]').waitFor()
  check((await page.locator('h2').first().innerText()).includes(payload('name')), 'workflow name as text')
  await textOnly('step', 'workflow page (step id)')
  await textOnly('steperror', 'workflow page (step error)')
  const graph = await page.locator('svg').first().textContent()
  check(graph.includes(payload('step')), `the graph names the step as text: ${graph}`)

  step('an id from the address bar (and the API\'s error about it)')
  await page.goto(`${base}/#/jobs/${encodeURIComponent(payload('route'))}`)
  await page.getByRole('alert').waitFor()
  await textOnly('route', 'unknown job page')

  step('settings links are http(s) only')
  await page.goto(`${base}/#/settings`)
  await page.evaluate(() => localStorage.setItem('boltq.settings', JSON.stringify({
    grafanaUrl: 'javascript:window.__xss=1', prometheusUrl: 'data:text/html,<img src=x onerror=alert(1)>',
  })))
  await page.reload()
  await page.getByRole('heading', { name: 'Settings' }).waitFor()
  const hrefs = await page.locator('main a').evaluateAll((as) => as.map((a) => a.getAttribute('href')))
  check(hrefs.every((h) => /^https?:\/\//.test(h)), `only http(s) links: ${hrefs}`)
  check(await page.getByRole('link', { name: 'Grafana' }).count() === 0, 'no javascript: link')
  check((await page.locator('main').innerText()).includes('javascript:window.__xss=1'), 'the bad URL shows as text')
  await page.getByRole('link', { name: /API docs/ }).waitFor() // a good one still links
  check(await page.evaluate(() => window.__xss === undefined), 'nothing ran')
  await page.screenshot({ path: join(artifacts, 'untrusted-settings.png'), fullPage: true })
  await page.evaluate(() => localStorage.clear())

  step('the API key is kept for this tab\'s session only')
  await page.goto(`${base}/#/settings`)
  await page.reload()
  const keyField = (p) => p.getByLabel('API key (x-api-key)')
  await keyField(page).fill('sekrit-session-key')
  await page.getByRole('button', { name: 'Save' }).click()
  await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor()
  const stores = (p) => p.evaluate(() => ({ local: JSON.stringify({ ...localStorage }), session: JSON.stringify({ ...sessionStorage }) }))
  let s = await stores(page)
  check(s.session.includes('sekrit-session-key') && !s.local.includes('sekrit'), `session only: ${JSON.stringify(s)}`)
  await page.reload()
  check(await keyField(page).inputValue() === 'sekrit-session-key', 'kept across a reload of the tab')
  const other = await context.newPage()
  await other.goto(`${base}/#/settings`)
  await other.getByRole('heading', { name: 'Settings' }).waitFor()
  check(await keyField(other).inputValue() === '', 'a new tab does not get it')
  await other.close()

  step('... and remembered in this browser when the user ticks "remember"')
  await page.getByLabel(/Remember the key/).check()
  await page.getByRole('button', { name: 'Save' }).click()
  s = await stores(page)
  check(s.local.includes('sekrit-session-key') && !s.session.includes('sekrit'), `remembered: ${JSON.stringify(s)}`)
  const third = await context.newPage()
  await third.goto(`${base}/#/settings`)
  await third.getByRole('heading', { name: 'Settings' }).waitFor()
  check(await keyField(third).inputValue() === 'sekrit-session-key', 'a new tab gets the remembered key')
  check(await third.getByLabel(/Remember the key/).isChecked(), 'and shows it is remembered')
  await third.getByLabel(/Remember the key/).uncheck()
  await third.getByRole('button', { name: 'Save' }).click()
  s = await stores(third)
  check(!s.local.includes('sekrit'), `forgotten by this browser: ${JSON.stringify(s)}`)
  await third.close()
  console.log('untrusted: all passed')
} catch (err) {
  failed = true
  console.error(String(err && err.stack ? err.stack : err))
  for (const p of context.pages()) {
    await p.screenshot({ path: join(artifacts, 'untrusted-failure.png'), fullPage: true }).catch(() => {})
  }
} finally {
  await context.close().catch(() => {})
  rmSync(profile, { recursive: true, force: true })
}
process.exit(failed ? 1 : 0)
