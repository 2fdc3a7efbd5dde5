// The playground under the Content-Security-Policy CloudFront adds in AWS (template.yaml's
// PlaygroundHeaders, given in the CSP environment variable), in real headless Chromium against
// a running `boltq dev`: the page loads, its WebSocket connects, a job submitted through the
// form completes, every page renders, Chromium reports no violation, and the policy is really
// in force (an injected inline script does not run).
// Usage: CSP="..." node e2e/csp.mjs BASE_URL
import { base, check, launch, newProfile, removeProfile } from './harness.mjs'

const csp = process.env.CSP
const profile = newProfile('csp-')
const errors = []

check(csp, 'CSP is set')
const context = await launch(profile, {
  // a document fulfilled by the test (to add the header) has no address of its own, so
  // Chromium would take its calls to 127.0.0.1 for a public page reaching a local network
  extraArgs: ['--disable-features=LocalNetworkAccessChecks'],
})
let failed = false
try {
  // every document comes with the policy, as from CloudFront
  await context.route('**/*', async (route) => {
    if (route.request().resourceType() !== 'document') return route.continue()
    const response = await route.fetch()
    return route.fulfill({ response, headers: { ...response.headers(), 'content-security-policy': csp } })
  })
  const page = context.pages()[0] || (await context.newPage())
  page.setDefaultTimeout(30000)
  await page.addInitScript(() => {
    window.__csp = []
    document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`))
  })
  page.on('pageerror', (err) => errors.push(String(err)))
  page.on('console', (msg) => { if (msg.type() === 'error') errors.push(msg.text()) })

  await page.goto(`${base}/`)
  await page.locator('[data-testid=connection][data-state=open]').waitFor() // WebSocket: connect-src
  await page.getByRole('button', { name: 'echo', exact: true }).click()
  await page.locator('textarea[name=data]').fill('{"message": "under the CSP"}')
  await page.getByRole('button', { name: 'Submit job' }).click()
  await page.waitForURL(/#\/jobs\/[0-9a-f-]+$/)
  await page.locator('[data-testid=job-status] [data-status=completed]').waitFor()
  for (const hash of ['#/jobs', '#/workflows', '#/dlq', '#/queues', '#/settings']) {
    await page.goto(`${base}/${hash}`)
    await page.locator('main').waitFor()
    await page.waitForTimeout(300)
  }
  const violations = await page.evaluate(() => window.__csp)
  check(violations.length === 0, `no CSP violation: ${violations.join(' | ')}`)
  check(errors.length === 0, `no page errors: ${errors.join(' | ')}`)
  const inline = await page.evaluate(() => {
    const s = document.createElement('script')
    s.textContent = 'window.__inline = 1'
    document.body.appendChild(s)
    return window.__inline === 1
  })
  check(!inline, 'an inline script is refused: the policy is in force')
  console.log('csp: all passed')
} catch (err) {
  failed = true
  console.error(String(err && err.stack ? err.stack : err))
  const page = context.pages()[0]
  if (page) console.error('CSP violations:', JSON.stringify(await page.evaluate(() => window.__csp).catch(() => null)))
  if (errors.length) console.error('page errors:', errors.join(' | '))
} finally {
  await context.close()
  removeProfile(profile)
}
process.exit(failed ? 1 : 0)
