// Where the API and WebSocket live. Order: settings saved in this browser (localStorage), then
// config.json beside index.html (written by the S3 deploy), then the page's own origin.
// The API key is a secret: it is kept for this tab's session only (sessionStorage) unless the
// user asks to remember it (then localStorage, with the other settings).
const KEY = 'boltq.settings'
const SESSION_KEY = 'boltq.apiKey'

export const defaults = () => ({
  apiUrl: '',
  wsUrl: '',
  apiKey: '',
  grafanaUrl: 'http://localhost:3000',
  prometheusUrl: 'http://localhost:9090',
})

let fileConfig = {}

export async function loadFileConfig(fetchImpl = globalThis.fetch) {
  try {
    const resp = await fetchImpl('config.json', { cache: 'no-store' })
    const type = resp.headers.get('content-type') || ''
    if (resp.ok && type.includes('json')) {
      const body = await resp.json()
      if (body && typeof body === 'object') fileConfig = pick(body)
    }
  } catch {
    // no config.json: same-origin defaults
  }
  return fileConfig
}

function pick(obj) {
  const out = {}
  for (const k of Object.keys(defaults())) {
    if (typeof obj[k] === 'string') out[k] = obj[k]
  }
  return out
}

function stored() {
  try {
    return pick(JSON.parse(localStorage.getItem(KEY) || '{}'))
  } catch {
    return {}
  }
}

export function savedSettings() {
  const out = stored()
  const sessionKey = sessionStorage.getItem(SESSION_KEY)
  if (sessionKey) out.apiKey = sessionKey
  return out
}

// Whether the API key is remembered beyond this tab's session (localStorage).
export function keyRemembered() {
  return Boolean(stored().apiKey)
}

export function saveSettings(values, { remember = false } = {}) {
  const clean = {}
  for (const [k, v] of Object.entries(pick(values))) if (v.trim() !== '') clean[k] = v.trim()
  const { apiKey, ...rest } = clean
  localStorage.setItem(KEY, JSON.stringify(remember && apiKey ? clean : rest))
  if (apiKey && !remember) sessionStorage.setItem(SESSION_KEY, apiKey)
  else sessionStorage.removeItem(SESSION_KEY)
  listeners.forEach((fn) => fn(settings()))
}

export function settings() {
  return { ...defaults(), ...fileConfig, ...savedSettings() }
}

const listeners = new Set()
export function onSettingsChange(fn) {
  listeners.add(fn)
  return () => listeners.delete(fn)
}

export function apiBase(s = settings()) {
  const base = (s.apiUrl || window.location.origin).replace(/\/+$/, '')
  return base.endsWith('/api/v1') ? base : `${base}/api/v1`
}

// The WebSocket URL; with a ticket (POST /ws/tickets, single use) to open it. The API key never
// goes into a URL.
export function wsUrl(s = settings(), ticket = '') {
  let url = s.wsUrl
  if (!url) {
    const proto = window.location.protocol === 'https:' ? 'wss:' : 'ws:'
    url = `${proto}//${window.location.host}/ws`
  }
  if (ticket) url += (url.includes('?') ? '&' : '?') + 'ticket=' + encodeURIComponent(ticket)
  return url
}
