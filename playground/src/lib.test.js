import { afterEach, describe, expect, it, vi } from 'vitest'
import { apiBase, loadFileConfig, saveSettings, settings, wsUrl } from './config.js'
import { api, ApiError } from './api.js'
import { LiveSocket } from './ws.js'
import { merge, percentOf } from './components/Jobs.jsx'
import { parseData } from './components/Submit.jsx'
import { layout } from './components/Workflows.jsx'
import { addSample, rates } from './components/Queues.jsx'
import { FakeWebSocket, fakeFetch } from './test/fakes.js'

afterEach(() => {
  vi.unstubAllGlobals()
  vi.useRealTimers()
  FakeWebSocket.instances = []
})

describe('config', () => {
  it('defaults to the page origin', () => {
    expect(apiBase()).toBe(`${window.location.origin}/api/v1`)
    expect(wsUrl()).toBe(`ws://${window.location.host}/ws`)
  })
  it('uses saved settings and opens the WebSocket with a ticket, never the API key', () => {
    saveSettings({ apiUrl: 'https://x.example/prod/', wsUrl: 'wss://w.example/prod', apiKey: 'k&1' })
    expect(apiBase()).toBe('https://x.example/prod/api/v1')
    expect(wsUrl()).toBe('wss://w.example/prod')
    expect(wsUrl(settings(), 'bqt_a&b')).toBe('wss://w.example/prod?ticket=bqt_a%26b')
  })
  it('reads config.json and ignores an HTML fallback page', async () => {
    const html = { ok: true, headers: { get: () => 'text/html' }, json: async () => { throw new Error('html') } }
    await loadFileConfig(async () => html)
    expect(settings().apiUrl).toBe('')
    const good = { ok: true, headers: { get: () => 'application/json' }, json: async () => ({ apiUrl: 'https://a.example', wsUrl: 'wss://b.example', evil: 1 }) }
    await loadFileConfig(async () => good)
    expect(settings().apiUrl).toBe('https://a.example')
    expect(settings().evil).toBeUndefined()
    saveSettings({ apiUrl: 'https://mine.example' })
    expect(settings().apiUrl).toBe('https://mine.example') // the browser's own setting wins
    await loadFileConfig(async () => ({ ok: true, headers: { get: () => 'application/json' }, json: async () => ({}) }))
  })
})

describe('api client', () => {
  it('unwraps the envelope and sends the API key', async () => {
    saveSettings({ apiKey: 'secret' })
    const f = fakeFetch([['POST', '/api/v1/jobs', (b) => ({ job_id: 'j1', status: 'pending', echo: b })]])
    vi.stubGlobal('fetch', f)
    const res = await api.submitJob({ type: 'echo', data: {} })
    expect(res.job_id).toBe('j1')
    expect(f.calls[0].headers['x-api-key']).toBe('secret')
    expect(f.calls[0].body).toEqual({ type: 'echo', data: {} })
  })
  it('throws the server message with details', async () => {
    vi.stubGlobal('fetch', fakeFetch([['POST', '/api/v1/jobs', { __status: 400, error: 'priority: bad', details: [{ field: 'priority', message: 'bad' }] }]]))
    const err = await api.submitJob({}).catch((e) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect(err.message).toBe('400: priority: bad')
    expect(err.details[0].field).toBe('priority')
  })
  it('reports an unreachable API', async () => {
    vi.stubGlobal('fetch', async () => { throw new TypeError('Failed to fetch') })
    await expect(api.stats()).rejects.toThrow(/cannot reach the API/)
  })
  it('encodes ids and query parameters', async () => {
    const f = fakeFetch([['GET', '/jobs', { items: [], next_cursor: null }]])
    vi.stubGlobal('fetch', f)
    await api.listJobs({ status: 'failed', type: '', limit: 5 })
    expect(f.calls[0].url).toMatch(/\/api\/v1\/jobs\?status=failed&limit=5$/)
    await api.getJob('a/b').catch(() => {})
    expect(f.calls[1].url).toMatch(/\/jobs\/a%2Fb$/)
  })
})

describe('LiveSocket', () => {
  it('subscribes, resubscribes after a reconnect and backs off', () => {
    vi.useFakeTimers()
    vi.spyOn(Math, 'random').mockReturnValue(1)
    const s = new LiveSocket({ url: () => 'ws://t/ws', WebSocketImpl: FakeWebSocket, baseDelay: 100, maxDelay: 1000 })
    const states = []
    s.onState((st) => states.push(st))
    const got = []
    s.onMessage((m) => got.push(m))
    s.subscribe({ job_id: 'j1' })
    s.start()
    expect(s.state).toBe('connecting')
    const first = FakeWebSocket.instances[0]
    first.open()
    expect(s.state).toBe('open')
    expect(first.sent).toEqual([{ action: 'subscribe', job_id: 'j1' }])
    first.push({ type: 'job_update', job_id: 'j1', status: 'running' })
    expect(got).toHaveLength(1)
    first.drop()
    expect(s.state).toBe('closed')
    vi.advanceTimersByTime(100)
    const second = FakeWebSocket.instances[1]
    expect(second).toBeTruthy()
    second.drop() // fails again: the next wait is longer
    vi.advanceTimersByTime(150)
    expect(FakeWebSocket.instances).toHaveLength(2)
    vi.advanceTimersByTime(100)
    const third = FakeWebSocket.instances[2]
    third.open()
    expect(third.sent).toEqual([{ action: 'subscribe', job_id: 'j1' }])
    expect(states).toEqual(['connecting', 'open', 'closed', 'connecting', 'closed', 'connecting', 'open'])
    s.stop()
    expect(third.closed).toBe(true)
    expect(s.state).toBe('idle')
    vi.restoreAllMocks()
  })
  it('fetches a ticket before each connect and drops one that arrives after stop', async () => {
    let pending = []
    const s = new LiveSocket({ url: () => new Promise((resolve) => pending.push(resolve)), WebSocketImpl: FakeWebSocket })
    const before = FakeWebSocket.instances.length
    s.start()
    expect(s.state).toBe('connecting')
    expect(FakeWebSocket.instances).toHaveLength(before)
    pending[0]('ws://t/ws?ticket=t1')
    await Promise.resolve()
    expect(FakeWebSocket.instances).toHaveLength(before + 1)
    expect(FakeWebSocket.instances[before].url).toBe('ws://t/ws?ticket=t1')
    s.stop()
    pending = []
    s.start()
    s.stop()
    pending[0]('ws://t/ws?ticket=late')
    await Promise.resolve()
    expect(FakeWebSocket.instances).toHaveLength(before + 1)
  })
  it('counts subscribers and unsubscribes when the last leaves', () => {
    const s = new LiveSocket({ url: () => 'ws://t/ws', WebSocketImpl: FakeWebSocket })
    s.start()
    const ws = FakeWebSocket.instances[0]
    ws.open()
    const a = s.subscribe({ topic: 'all' })
    const b = s.subscribe({ topic: 'all' })
    expect(ws.sent).toHaveLength(1)
    a()
    b()
    expect(ws.sent[1]).toEqual({ action: 'unsubscribe', topic: 'all' })
    s.stop()
  })
})

describe('helpers', () => {
  it('validates job data as a JSON object', () => {
    expect(parseData('{"a": 1}')).toEqual([{ a: 1 }, null])
    expect(parseData('')).toEqual([{}, null])
    expect(parseData('[1]')[1]).toMatch(/JSON object/)
    expect(parseData('{oops')[1]).toMatch(/not valid JSON/)
  })
  it('applies pushes without going back from a finished state', () => {
    const job = { id: 'j', status: 'running', result: null }
    const done = merge(job, { job_id: 'j', status: 'completed', data: { id: 'j', status: 'completed', result: 1 } })
    expect(done).toMatchObject({ status: 'completed', result: 1 })
    expect(merge(done, { job_id: 'j', status: 'running', data: { id: 'j', status: 'running' } }).status).toBe('completed')
    expect(merge(job, { job_id: 'j', status: 'cancelled' }).status).toBe('cancelled')
  })
  it('reads progress as a percentage when it can', () => {
    expect(percentOf({ percent: 40 })).toBe(40)
    expect(percentOf(0.25)).toBe(25)
    expect(percentOf(70)).toBe(70)
    expect(percentOf({ step: 'x' })).toBeNull()
    expect(percentOf(null)).toBeNull()
  })
  it('lays out a workflow by dependency depth', () => {
    const { pos, columns, rows } = layout([
      { id: 'a', depends_on: [] }, { id: 'b', depends_on: ['a'] }, { id: 'c', depends_on: ['a'] },
      { id: 'd', depends_on: ['b', 'c'] },
    ])
    expect(columns).toBe(3)
    expect(rows).toBe(2)
    expect(pos.get('a')).toEqual({ x: 0, y: 0 })
    expect(pos.get('c')).toEqual({ x: 1, y: 1 })
    expect(pos.get('d')).toEqual({ x: 2, y: 0 })
  })
  it('computes throughput from stats samples over five minutes', () => {
    const samples = []
    addSample(samples, { totals: { completed: 0, failed: 0 } }, 0)
    addSample(samples, { totals: { completed: 10, failed: 2 } }, 2000)
    expect(rates(samples)).toEqual([{ t: 2000, rate: 6 }])
    addSample(samples, { totals: { completed: 20 } }, 10 * 60 * 1000)
    expect(samples).toHaveLength(1)
  })
})
