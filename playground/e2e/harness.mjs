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
