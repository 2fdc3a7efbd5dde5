import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { act, fireEvent, render, screen, waitFor } from '@testing-library/react'
import { live } from './ws.js'
import Submit from './components/Submit.jsx'
import { JobDetail, JobList } from './components/Jobs.jsx'
import { WorkflowBuilder, WorkflowDetail, WorkflowGraph } from './components/Workflows.jsx'
import DeadLetters from './components/DeadLetters.jsx'
import Queues from './components/Queues.jsx'
import Settings from './components/Settings.jsx'
import { ConnectionIndicator } from './components/common.jsx'
import { settings } from './config.js'
import { FakeWebSocket, fakeFetch } from './test/fakes.js'

const job = (over = {}) => ({
  id: 'job-1', type: 'echo', data: { message: 'hi' }, priority: 1, status: 'pending', attempts: 0,
  max_attempts: 3, timeout_seconds: 300, created_at: '2026-01-01T00:00:00Z', scheduled_at: null,
  started_at: null, finished_at: null, result: null, last_error: null, progress: null, ...over,
})

let socket
beforeEach(() => {
  FakeWebSocket.instances = []
  live.WebSocketImpl = FakeWebSocket
  live.url = () => 'ws://test/ws'
  live.subs.clear()
  live.start()
  socket = FakeWebSocket.instances[0]
  act(() => socket.open())
})
afterEach(() => {
  live.stop()
  vi.unstubAllGlobals()
})

describe('Submit', () => {
  it('refuses invalid JSON without calling the API', async () => {
    const f = fakeFetch([])
    vi.stubGlobal('fetch', f)
    render(<Submit />)
    fireEvent.change(screen.getByLabelText(/Data/), { target: { value: '{nope' } })
    fireEvent.click(screen.getByRole('button', { name: 'Submit job' }))
    expect(await screen.findByRole('alert')).toHaveProperty('textContent', expect.stringMatching(/not valid JSON/))
    expect(f).not.toHaveBeenCalled()
  })
  it('fills templates, sends the job and goes to its page', async () => {
    const f = fakeFetch([['POST', '/jobs', { job_id: 'new-id', status: 'scheduled' }]])
    vi.stubGlobal('fetch', f)
    render(<Submit />)
    fireEvent.click(screen.getByRole('button', { name: 'sleep' }))
    expect(screen.getByLabelText(/Type/).value).toBe('sleep')
    fireEvent.change(screen.getByLabelText(/Priority/), { target: { value: 'high' } })
    fireEvent.change(screen.getByLabelText(/Delay/), { target: { value: '3' } })
    fireEvent.click(screen.getByRole('button', { name: 'Submit job' }))
    await waitFor(() => expect(window.location.hash).toBe('#/jobs/new-id'))
    expect(f.calls[0].body).toEqual({ type: 'sleep', data: { seconds: 5 }, priority: 'high', delay_seconds: 3 })
    expect(screen.getByTestId('submitted-id').textContent).toBe('new-id')
  })
  it('shows the API refusal', async () => {
    vi.stubGlobal('fetch', fakeFetch([['POST', '/jobs', { __status: 413, error: 'data is too large' }]]))
    render(<Submit />)
    fireEvent.click(screen.getByRole('button', { name: 'Submit job' }))
    expect((await screen.findByRole('alert')).textContent).toBe('413: data is too large')
  })
})

describe('JobDetail', () => {
  it('shows the job escaped, follows pushes and cancels', async () => {
    let current = job({ data: { html: '<img src=x onerror="window.__xss=1">' } })
    const f = fakeFetch([
      ['GET', '/jobs/job-1', () => current],
      ['POST', '/jobs/job-1/cancel', () => { current = { ...current, status: 'cancelled' }; return { status: 'cancelled' } }],
    ])
    vi.stubGlobal('fetch', f)
    const { container } = render(<JobDetail id="job-1" />)
    await screen.findByText('pending')
    expect(container.querySelector('img')).toBeNull()
    expect(screen.getByTestId('job-data').textContent).toContain('<img src=x')
    expect(socket.sent).toContainEqual({ action: 'subscribe', job_id: 'job-1' })
    act(() => socket.push({ type: 'job_update', job_id: 'job-1', status: 'running', data: { ...current, status: 'running', progress: { percent: 50 } } }))
    expect(screen.getByTestId('job-status').textContent).toBe('running')
    expect(screen.getByTestId('job-progress').textContent).toContain('50%')
    fireEvent.click(screen.getByRole('button', { name: 'Cancel' }))
    await waitFor(() => expect(screen.getByTestId('job-status').textContent).toBe('cancelled'))
    expect(f.calls.some((c) => c.method === 'POST' && c.url.endsWith('/jobs/job-1/cancel'))).toBe(true)
    expect(screen.queryByRole('button', { name: 'Cancel' })).toBeNull()
  })
  it('shows a 404 clearly', async () => {
    vi.stubGlobal('fetch', fakeFetch([['GET', '/jobs/nope', { __status: 404, error: 'job nope not found' }]]))
    render(<JobDetail id="nope" />)
    expect((await screen.findByRole('alert')).textContent).toBe('404: job nope not found')
  })
})

describe('JobList', () => {
  it('filters, pages and applies pushes', async () => {
    const f = fakeFetch([['GET', '/jobs', (_b, url) => (url.includes('cursor=c2')
      ? { items: [job({ id: 'old' })], next_cursor: null }
      : { items: [job({ id: 'a' }), job({ id: 'b', status: 'running' })], next_cursor: 'c2' })]])
    vi.stubGlobal('fetch', f)
    render(<JobList />)
    await screen.findByText('a')
    act(() => socket.push({ type: 'job_update', job_id: 'b', status: 'completed', data: job({ id: 'b', status: 'completed' }) }))
    expect(screen.getByText('b').closest('tr').querySelector('[data-status]').dataset.status).toBe('completed')
    fireEvent.change(screen.getByLabelText('status filter'), { target: { value: 'failed' } })
    await waitFor(() => expect(f.calls.some((c) => c.url.includes('status=failed'))).toBe(true))
    fireEvent.click(screen.getByRole('button', { name: /Older/ }))
    await screen.findByText('old')
    fireEvent.click(screen.getByRole('button', { name: /Newer/ }))
    await screen.findByText('a')
  })
})

describe('Workflows', () => {
  it('builds steps with dependencies and submits them', async () => {
    const f = fakeFetch([['POST', '/workflows', { workflow_id: 'wf-1' }]])
    vi.stubGlobal('fetch', f)
    render(<WorkflowBuilder />)
    fireEvent.click(screen.getByRole('button', { name: 'Add step' }))
    expect(screen.getByLabelText('step 2 depends on step-1').checked).toBe(true)
    fireEvent.change(screen.getByLabelText('step 2 job type'), { target: { value: 'sleep' } })
    fireEvent.change(screen.getByLabelText('step 2 params'), { target: { value: '{"seconds": 1}' } })
    fireEvent.click(screen.getByRole('button', { name: 'Submit workflow' }))
    await waitFor(() => expect(window.location.hash).toBe('#/workflows/wf-1'))
    expect(f.calls[0].body.steps).toEqual([
      { id: 'step-1', job_type: 'echo', params: {}, depends_on: [] },
      { id: 'step-2', job_type: 'sleep', params: { seconds: 1 }, depends_on: ['step-1'] },
    ])
  })
  it('rejects bad params per step', async () => {
    vi.stubGlobal('fetch', fakeFetch([]))
    render(<WorkflowBuilder />)
    fireEvent.change(screen.getByLabelText('step 1 params'), { target: { value: '[]' } })
    fireEvent.click(screen.getByRole('button', { name: 'Submit workflow' }))
    expect((await screen.findByRole('alert')).textContent).toMatch(/^step-1: Data must be a JSON object/)
  })
  it('draws each step with its state', () => {
    render(<WorkflowGraph steps={[
      { id: 'step-1', job_type: 'echo', depends_on: [], status: 'completed' },
      { id: 'step-2', job_type: 'echo', depends_on: ['step-1'], status: 'running' },
    ]} />)
    expect(screen.getByTestId('step-step-1').dataset.status).toBe('completed')
    expect(screen.getByTestId('step-step-2').dataset.status).toBe('running')
    expect(screen.getByTestId('workflow-graph').querySelectorAll('line')).toHaveLength(1)
  })
})

describe('WorkflowDetail', () => {
  const wf = (over = {}) => ({
    id: 'wf-1', name: 'pipeline', status: 'running', total_steps: 1, completed_steps: 0,
    created_at: '2026-01-01T00:00:00Z', finished_at: null,
    steps: [{ id: 'step-1', job_type: 'sleep', depends_on: [], status: 'running', job_id: 'j1' }],
    ...over,
  })
  it('cancels, then deletes only after confirming', async () => {
    let current = wf()
    const f = fakeFetch([
      ['GET', '/workflows/wf-1', () => current],
      ['POST', '/workflows/wf-1/cancel', () => { current = wf({ status: 'cancelled' }); return { status: 'cancelled' } }],
      ['DELETE', '/workflows/wf-1', { workflow_id: 'wf-1', deleted: true }],
    ])
    vi.stubGlobal('fetch', f)
    window.location.hash = '#/workflows/wf-1'
    render(<WorkflowDetail id="wf-1" />)
    fireEvent.click(await screen.findByRole('button', { name: 'Cancel workflow' }))
    await waitFor(() => expect(screen.getByTestId('workflow-status').textContent).toBe('cancelled'))
    fireEvent.click(screen.getByRole('button', { name: 'Delete…' }))
    fireEvent.click(screen.getByRole('button', { name: 'No' }))
    expect(f.calls.some((c) => c.method === 'DELETE')).toBe(false)
    fireEvent.click(screen.getByRole('button', { name: 'Delete…' }))
    fireEvent.click(screen.getByRole('button', { name: 'Yes, delete' }))
    await waitFor(() => expect(window.location.hash).toBe('#/workflows'))
    expect(f.calls.filter((c) => c.method === 'DELETE')).toHaveLength(1)
  })
  it('shows a refused delete', async () => {
    vi.stubGlobal('fetch', fakeFetch([
      ['GET', '/workflows/wf-1', wf({ status: 'completed' })],
      ['DELETE', '/workflows/wf-1', { __status: 404, error: "workflow 'wf-1' not found" }],
    ]))
    render(<WorkflowDetail id="wf-1" />)
    fireEvent.click(await screen.findByRole('button', { name: 'Delete…' }))
    fireEvent.click(screen.getByRole('button', { name: 'Yes, delete' }))
    expect((await screen.findByRole('alert')).textContent).toBe("404: workflow 'wf-1' not found")
  })
})

describe('DeadLetters', () => {
  it('inspects, requeues one and purges only after confirming', async () => {
    const dead = job({ id: 'd1', type: 'fail', status: 'failed', last_error: { category: 'permanent', message: 'PermanentError: boom' } })
    const f = fakeFetch([
      ['GET', '/dlq', { items: [dead], next_cursor: null }],
      ['GET', '/dlq/d1', dead],
      ['POST', '/dlq/d1/requeue', { requeued: ['d1'] }],
      ['DELETE', '/dlq', { purged: 1 }],
    ])
    vi.stubGlobal('fetch', f)
    render(<DeadLetters />)
    fireEvent.click(await screen.findByText('d1'))
    expect((await screen.findByTestId('dlq-detail')).textContent).toContain('PermanentError: boom')
    fireEvent.click(screen.getByRole('button', { name: 'Requeue' }))
    expect((await screen.findByText('Requeued d1.'))).toBeTruthy()
    fireEvent.click(screen.getByRole('button', { name: 'Purge…' }))
    expect(f.calls.some((c) => c.method === 'DELETE')).toBe(false)
    fireEvent.click(screen.getByRole('button', { name: 'No' }))
    fireEvent.click(screen.getByRole('button', { name: 'Purge…' }))
    fireEvent.click(screen.getByRole('button', { name: 'Yes, purge' }))
    expect(await screen.findByText('Purged 1 dead letter(s) of queue default.')).toBeTruthy()
    expect(f.calls.filter((c) => c.method === 'DELETE').map((c) => c.url.replace(/^.*\/api\/v1/, ''))).toEqual(['/dlq?queue=default'])
  })
})

describe('Queues', () => {
  it('shows live statistics', async () => {
    vi.stubGlobal('fetch', fakeFetch([['GET', '/queues/stats', {
      pending: { high: 4, normal: 5, low: 6 }, scheduled: 7, running: 8, retrying: 9, dead_letter: 10,
      totals: { submitted: 50, completed: 40, failed: 1 }, by_type: { echo: { submitted: 50, completed: 40 } },
    }]]))
    render(<Queues />)
    const cards = await screen.findByTestId('queue-stats')
    expect(cards.textContent).toContain('4pending high')
    expect(cards.textContent).toContain('10dead letters')
  })
})

describe('Settings and connection', () => {
  it('saves settings in localStorage and reconnects', () => {
    render(<Settings />)
    fireEvent.change(screen.getByLabelText(/API URL/), { target: { value: 'https://api.example/prod' } })
    fireEvent.change(screen.getByLabelText(/API key/), { target: { value: 'k1' } })
    fireEvent.click(screen.getByRole('button', { name: 'Save' }))
    expect(settings()).toMatchObject({ apiUrl: 'https://api.example/prod', apiKey: 'k1' })
    // the key for this session only; the rest in localStorage
    expect(sessionStorage.getItem('boltq.apiKey')).toBe('k1')
    expect(JSON.parse(localStorage.getItem('boltq.settings')).apiUrl).toBe('https://api.example/prod')
    expect(localStorage.getItem('boltq.settings')).not.toContain('k1')
    expect(FakeWebSocket.instances.length).toBe(2) // restarted with the new settings
    expect(screen.getByRole('link', { name: 'Grafana' }).getAttribute('href')).toMatch(/^http/)
  })
  it('remembers the key in localStorage only when asked, and forgets it again', () => {
    render(<Settings />)
    fireEvent.change(screen.getByLabelText(/API key/), { target: { value: 'k2' } })
    fireEvent.click(screen.getByLabelText(/Remember the key/))
    fireEvent.click(screen.getByRole('button', { name: 'Save' }))
    expect(JSON.parse(localStorage.getItem('boltq.settings')).apiKey).toBe('k2')
    expect(sessionStorage.getItem('boltq.apiKey')).toBeNull()
    sessionStorage.clear() // a new tab
    expect(settings().apiKey).toBe('k2')
    fireEvent.click(screen.getByLabelText(/Remember the key/))
    fireEvent.click(screen.getByRole('button', { name: 'Save' }))
    expect(localStorage.getItem('boltq.settings')).not.toContain('k2')
    expect(sessionStorage.getItem('boltq.apiKey')).toBe('k2')
  })
  it('links only http(s) URLs', () => {
    localStorage.setItem('boltq.settings', JSON.stringify({
      grafanaUrl: 'javascript:window.__xss=1', prometheusUrl: 'data:text/html,<script>1</script>',
      apiUrl: 'javascript:alert(1)//' }))
    const { container } = render(<Settings />)
    expect(screen.queryByRole('link', { name: 'Grafana' })).toBeNull()
    expect(screen.queryByRole('link', { name: 'Prometheus' })).toBeNull()
    expect(screen.queryByRole('link', { name: /API docs/ })).toBeNull()
    expect(container.querySelectorAll('a').length).toBe(0)
    expect(screen.getAllByTestId('bad-link').map((e) => e.textContent).join(' ')).toContain('javascript:window.__xss=1')
  })
  it('the indicator tells the truth', () => {
    render(<ConnectionIndicator />)
    const el = screen.getByTestId('connection')
    expect(el.dataset.state).toBe('open')
    expect(el.textContent).toContain('Live')
    act(() => FakeWebSocket.instances.at(-1).drop())
    expect(el.dataset.state).toBe('closed')
    expect(el.textContent).toMatch(/Disconnected — retrying in \d+s/)
  })
})
