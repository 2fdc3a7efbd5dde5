import { request } from './api.js'
import { settings, wsUrl } from './config.js'

// Every connect trades the API key for a fresh single-use ticket (the key stays out of URLs)
export async function ticketUrl() {
  const { ticket } = await request('POST', '/ws/tickets')
  return wsUrl(settings(), ticket)
}

// One WebSocket for the whole page. Subscriptions are remembered and sent again after every
// reconnect; reconnection backs off exponentially (with jitter) up to maxDelay.
export class LiveSocket {
  constructor({ url = ticketUrl, WebSocketImpl = globalThis.WebSocket, baseDelay = 500,
    maxDelay = 10000 } = {}) {
    this.url = url
    this.WebSocketImpl = WebSocketImpl
    this.baseDelay = baseDelay
    this.maxDelay = maxDelay
    this.state = 'idle' // idle | connecting | open | closed
    this.retryAt = null
    this.attempt = 0
    this.subs = new Map() // key -> {message, count}
    this.messageListeners = new Set()
    this.stateListeners = new Set()
    this.ws = null
    this.timer = null
    this.stopped = false
    this.generation = 0 // a connect whose ticket arrives after stop/restart is dropped
  }

  start() {
    this.stopped = false
    if (!this.ws && !this.timer) this.connect()
  }

  stop() {
    this.stopped = true
    this.generation += 1
    clearTimeout(this.timer)
    this.timer = null
    if (this.ws) this.ws.close()
    this.ws = null
    this.setState('idle')
  }

  restart() {
    this.stop()
    this.attempt = 0
    this.start()
  }

  connect() {
    this.timer = null
    this.retryAt = null
    this.setState('connecting')
    let target
    try {
      target = this.url() // a URL, or a promise of one (after fetching a ticket)
    } catch {
      this.scheduleReconnect()
      return
    }
    if (target && typeof target.then === 'function') {
      const generation = this.generation
      target.then(
        (url) => generation === this.generation && !this.ws && this.open(url),
        () => generation === this.generation && this.scheduleReconnect(),
      )
    } else this.open(target)
  }

  open(url) {
    let ws
    try {
      ws = new this.WebSocketImpl(url)
    } catch {
      this.scheduleReconnect()
      return
    }
    this.ws = ws
    ws.onopen = () => {
      if (this.ws !== ws) return
      this.attempt = 0
      this.setState('open')
      for (const { message } of this.subs.values()) this.send(message)
    }
    ws.onmessage = (ev) => {
      let msg
      try {
        msg = JSON.parse(ev.data)
      } catch {
        return
      }
      this.messageListeners.forEach((fn) => fn(msg))
    }
    ws.onclose = () => {
      if (this.ws !== ws) return
      this.ws = null
      if (!this.stopped) this.scheduleReconnect()
    }
    ws.onerror = () => {
      // onclose follows and schedules the reconnect
    }
  }

  scheduleReconnect() {
    const delay = Math.min(this.maxDelay, this.baseDelay * 2 ** this.attempt)
    const jittered = Math.round(delay / 2 + Math.random() * (delay / 2))
    this.attempt += 1
    this.retryAt = Date.now() + jittered
    this.setState('closed')
    this.timer = setTimeout(() => this.connect(), jittered)
  }

  send(message) {
    if (this.ws && this.state === 'open') this.ws.send(JSON.stringify(message))
  }

  // subscribe({job_id}) / ({workflow_id}) / ({topic: 'all'}); returns an unsubscribe function
  subscribe(target) {
    const key = JSON.stringify(target)
    const entry = this.subs.get(key)
    if (entry) entry.count += 1
    else {
      const message = { action: 'subscribe', ...target }
      this.subs.set(key, { message, count: 1 })
      this.send(message)
    }
    return () => {
      const e = this.subs.get(key)
      if (!e) return
      e.count -= 1
      if (e.count <= 0) {
        this.subs.delete(key)
        this.send({ action: 'unsubscribe', ...target })
      }
    }
  }

  onMessage(fn) {
    this.messageListeners.add(fn)
    return () => this.messageListeners.delete(fn)
  }

  onState(fn) {
    this.stateListeners.add(fn)
    return () => this.stateListeners.delete(fn)
  }

  setState(state) {
    this.state = state
    this.stateListeners.forEach((fn) => fn(state, this))
  }
}

export const live = new LiveSocket()
