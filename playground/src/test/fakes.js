import { vi } from 'vitest'

// A WebSocket stand-in the tests drive by hand.
export class FakeWebSocket {
  static instances = []
  constructor(url) {
    this.url = url
    this.sent = []
    this.closed = false
    FakeWebSocket.instances.push(this)
  }
  send(text) { this.sent.push(JSON.parse(text)) }
  close() { this.closed = true; this.onclose && this.onclose() }
  open() { this.onopen && this.onopen() }
  push(msg) { this.onmessage && this.onmessage({ data: JSON.stringify(msg) }) }
  drop() { this.onclose && this.onclose() }
}

// fetch stub: routes is [[method, pathSuffix, data | (body) => data | Error-ish {status, body}]]
export function fakeFetch(routes) {
  const calls = []
  const fn = vi.fn(async (url, init = {}) => {
    const method = init.method || 'GET'
    const body = init.body ? JSON.parse(init.body) : undefined
    calls.push({ url, method, body, headers: init.headers })
    for (const [m, suffix, reply] of routes) {
      if (m === method && url.split('?')[0].endsWith(suffix)) {
        const out = typeof reply === 'function' ? reply(body, url) : reply
        if (out && out.__status) return json(out.__status, { success: false, error: out.error, details: out.details })
        return json(200, { success: true, data: out })
      }
    }
    return json(404, { success: false, error: `no route for ${method} ${url}` })
  })
  fn.calls = calls
  return fn
}

function json(status, body) {
  return {
    ok: status >= 200 && status < 300,
    status,
    headers: { get: () => 'application/json' },
    json: async () => body,
  }
}
