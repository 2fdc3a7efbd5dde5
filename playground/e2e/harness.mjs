// What the end-to-end scripts share: their arguments (BASE_URL [ARTIFACT_DIR]), the checks, and
// headless Chromium launched as this machine allows (playwright-core with the system chromium,
// CHROMIUM overrides its path; no downloads, no sandbox, nothing phoning home).
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'

export const base = (process.argv[2] || 'http://127.0.0.1:8080').replace(/\/$/, '')
export const artifacts =
  process.argv[3] || join(process.cwd(), '..', 'test-artifacts', 'playground')
export const TIMEOUT = 30000
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-quic']

export function check(cond, message) {
  if (!cond) throw new Error(`expectation failed: ${message}`)
}

// [HTTP status, the reply's data] of a GET of the REST API
export async function apiStatus(path) {
  const resp = await fetch(`${base}/api/v1${path}`)
  return [resp.status, (await resp.json()).data]
}

// the reply's data of a GET of the REST API, which must succeed
export async function apiGet(path) {
  const resp = await fetch(`${base}/api/v1${path}`)
  const body = await resp.json()
  check(body.success, `GET ${path}: ${JSON.stringify(body)}`)
  return body.data
}

// a fresh browser profile folder (removeProfile when done)
export function newProfile(tag = '') {
  mkdirSync(artifacts, { recursive: true })
  return mkdtempSync(join(tmpdir(), `boltq-chromium-${tag}`))
}

export function removeProfile(dir) {
  rmSync(dir, { recursive: true, force: true })
}

// headless Chromium on `profile`; `extraArgs` are added to CHROMIUM_ARGS
export function launch(profile, { extraArgs = [], viewport = { width: 1280, height: 900 } } = {}) {
  return chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [...CHROMIUM_ARGS, ...extraArgs],
    viewport,
  })
}

// wait until `fn()` is true (polled every 200 ms), failing with `what` after TIMEOUT
export async function until(what, fn) {
  const deadline = Date.now() + TIMEOUT
  for (;;) {
    if (await fn()) return
    check(Date.now() < deadline, what)
    await new Promise((r) => setTimeout(r, 200))
  }
}

// Run one scenario in a fresh headless Chromium: `body(page, step)` drives the first page; the
// page must raise no error. On a failure every page is saved as `<name>-failure.png`. Exits
// the process: 0 when it passed, 1 when not.
export async function scenario(name, body) {
  const profile = newProfile()
  const context = await launch(profile)
  const pageErrors = []
  let failed = false
  try {
    const page = context.pages()[0] || (await context.newPage())
    page.setDefaultTimeout(TIMEOUT)
    page.on('pageerror', (err) => pageErrors.push(String(err)))
    await body(page, (what) => console.log(`e2e: ${what}`))
    check(pageErrors.length === 0, `no page errors: ${pageErrors.join(' | ')}`)
    console.log('e2e: all passed')
  } catch (err) {
    failed = true
    console.error(String(err && err.stack ? err.stack : err))
    for (const p of context.pages()) {
      await p.screenshot({ path: join(artifacts, `${name}-failure.png`), fullPage: true })
        .catch(() => {})
    }
  } finally {
    await context.close().catch(() => {})
    removeProfile(profile)
  }
  process.exit(failed ? 1 : 0)
}
