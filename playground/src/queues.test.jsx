import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { act, fireEvent, render, screen, waitFor } from '@testing-library/react'
import { live } from './ws.js'
import { QueueList } from './components/Queues.jsx'
import Submit from './components/Submit.jsx'
import { JobDetail, JobList } from './components/Jobs.jsx'
import DeadLetters from './components/DeadLetters.jsx'
import { FakeWebSocket, fakeFetch } from './test/fakes.js'

const info = (over = {}) => ({ name: 'emails', paused: false, pending: 4, running: 1, scheduled: 2, retrying: 0, dead_letter: 3, ...over })
const job = (over = {}) => ({
  id: 'emails:j1', queue: 'emails', type: 'echo', data: {}, priority: 1, status: 'pending', attempts: 0,
  max_attempts: 3, timeout_seconds: 300, created_at: '2026-01-01T00:00:00Z', scheduled_at: null,
  started_at: null, finished_at: null, result: null, last_error: null, progress: null, ...over,
})

beforeEach(() => {
  FakeWebSocket.instances = []
  live.WebSocketImpl = FakeWebSocket
  live.url = () => 'ws://test/ws'
  live.subs.clear()
  live.start()
  act(() => FakeWebSocket.instances[0].open())
})
afterEach(() => {
  live.stop()
  vi.unstubAllGlobals()
})

describe('QueueList', () => {
  it('lists every queue with its depths, names as text', async () => {
    const queues = [info({ name: 'default', pending: 0, dead_letter: 0 }), info(), info({ name: '<b>x</b>', paused: true })]
    vi.stubGlobal('fetch', fakeFetch([['GET', '/queues', { queues }]]))
    const { container } = render(<QueueList />)
    const row = (await screen.findByText('emails')).closest('tr')
    expect(row.querySelector('[data-testid=pending]').textContent).toBe('4')
    expect(row.textContent).toBe('emails41203activePause')
    expect(screen.getByText('<b>x</b>').closest('tr').querySelector('[data-testid=state]').textContent).toBe('paused')
    expect(container.querySelector('table b')).toBeNull()
    expect(screen.getAllByRole('button', { name: 'Pause' })).toHaveLength(2)
    expect(screen.getAllByRole('button', { name: 'Resume' })).toHaveLength(1)
  })
  it('pauses and resumes through the API and shows the new state', async () => {
    let paused = false
    const f = fakeFetch([
      ['GET', '/queues', () => ({ queues: [info({ paused })] })],
      ['POST', '/queues/emails/pause', () => { paused = true; return { queue: 'emails', paused } }],
      ['POST', '/queues/emails/resume', () => { paused = false; return { queue: 'emails', paused } }],
    ])
    vi.stubGlobal('fetch', f)
    render(<QueueList />)
    fireEvent.click(await screen.findByRole('button', { name: 'Pause' }))
    await screen.findByText(/^Paused emails/)
    expect(screen.getByTestId('state').textContent).toBe('paused')
    fireEvent.click(screen.getByRole('button', { name: 'Resume' }))
    await screen.findByText('Resumed emails.')
    expect(screen.getByTestId('state').textContent).toBe('active')
    expect(f.calls.filter((c) => c.method === 'POST').map((c) => c.url.replace(/^.*\/api\/v1/, ''))).toEqual(['/queues/emails/pause', '/queues/emails/resume'])
  })
  it('shows the refusal of a pause', async () => {
    vi.stubGlobal('fetch', fakeFetch([
      ['GET', '/queues', { queues: [info()] }],
      ['POST', '/queues/emails/pause', { __status: 403, error: 'this key may not pause queues' }],
    ]))
    render(<QueueList />)
    fireEvent.click(await screen.findByRole('button', { name: 'Pause' }))
    expect((await screen.findByRole('alert')).textContent).toBe('403: this key may not pause queues')
  })
  it('says when no queue is known yet', async () => {
    vi.stubGlobal('fetch', fakeFetch([['GET', '/queues', { queues: [] }]]))
    render(<QueueList />)
    expect((await screen.findByTestId('queues-empty')).textContent).toMatch(/No queue/)
  })
})

describe('Submit into a queue', () => {
  it('sends the queue when one is given, none when the field is empty', async () => {
    const f = fakeFetch([['POST', '/jobs', { job_id: 'emails:new', status: 'pending' }]])
    vi.stubGlobal('fetch', f)
    render(<Submit />)
    fireEvent.click(screen.getByRole('button', { name: 'Submit job' }))
    await waitFor(() => expect(f.calls).toHaveLength(1))
    expect(f.calls[0].body).not.toHaveProperty('queue')
    fireEvent.change(screen.getByLabelText(/^Queue/), { target: { value: ' emails ' } })
    fireEvent.click(screen.getByRole('button', { name: 'Submit job' }))
    await waitFor(() => expect(f.calls).toHaveLength(2))
    expect(f.calls[1].body).toMatchObject({ type: 'echo', queue: 'emails' })
  })
  it.each(['bad name', 'a/b', 'x'.repeat(65)])('refuses the queue name %j without calling the API', async (name) => {
    const f = fakeFetch([])
    vi.stubGlobal('fetch', f)
    render(<Submit />)
    fireEvent.change(screen.getByLabelText(/^Queue/), { target: { value: name } })
    fireEvent.click(screen.getByRole('button', { name: 'Submit job' }))
    expect((await screen.findByRole('alert')).textContent).toMatch(/^Queue must be 1 to 64 letters, digits/)
    expect(f).not.toHaveBeenCalled()
  })
})

describe('Jobs and their queue', () => {
  it('the list shows each job\'s queue and lists the chosen queue', async () => {
    const f = fakeFetch([
      ['GET', '/queues', { queues: [info({ name: 'default' }), info()] }],
      ['GET', '/jobs', (_b, url) => ({ items: url.includes('queue=emails') ? [job()] : [job({ id: 'd1', queue: 'default' })], next_cursor: null })],
    ])
    vi.stubGlobal('fetch', f)
    render(<JobList />)
    expect((await screen.findByText('d1')).closest('tr').querySelector('[data-testid=job-queue]').textContent).toBe('default')
    expect(f.calls.find((c) => c.url.includes('/jobs')).url).toContain('queue=default')
    await screen.findByRole('option', { name: 'emails' })
    fireEvent.change(screen.getByLabelText('queue filter'), { target: { value: 'emails' } })
    const row = (await screen.findByText('emails:j1')).closest('tr')
    expect(row.querySelector('[data-testid=job-queue]').textContent).toBe('emails')
    expect(screen.queryByText('d1')).toBeNull()
  })
  it('the selector still offers the default queue when the queue list cannot be read', async () => {
    vi.stubGlobal('fetch', fakeFetch([['GET', '/jobs', { items: [], next_cursor: null }]]))
    render(<JobList />)
    await screen.findByText('No jobs.')
    expect(screen.getByLabelText('queue filter').value).toBe('default')
    expect(screen.queryByRole('alert')).toBeNull()
  })
  it('the job page shows its queue', async () => {
    vi.stubGlobal('fetch', fakeFetch([['GET', '/jobs/emails%3Aj1', job()]]))
    render(<JobDetail id="emails:j1" />)
    expect((await screen.findByTestId('job-queue')).textContent).toBe('emails')
  })
})

describe('Dead letters of a queue', () => {
  it('lists the chosen queue\'s, requeues one, and requeues all or purges that queue\'s', async () => {
    const dead = job({ status: 'failed', attempts: 3, last_error: { category: 'permanent', message: 'boom' } })
    const f = fakeFetch([
      ['GET', '/queues', { queues: [info({ name: 'default' }), info()] }],
      ['GET', '/dlq', (_b, url) => ({ items: url.includes('queue=emails') ? [dead] : [], next_cursor: null })],
      ['POST', '/dlq/emails%3Aj1/requeue', { requeued: ['emails:j1'] }],
      ['POST', '/dlq/requeue', { requeued: 2 }],
      ['DELETE', '/dlq', { purged: 3 }],
    ])
    vi.stubGlobal('fetch', f)
    render(<DeadLetters />)
    await screen.findByTestId('dlq-empty')
    expect(f.calls.find((c) => c.url.includes('/dlq')).url).toContain('queue=default')
    expect(screen.getByRole('button', { name: 'Requeue all' }).disabled).toBe(true)  // none to act on
    await screen.findByRole('option', { name: 'emails' })
    fireEvent.change(screen.getByLabelText('queue filter'), { target: { value: 'emails' } })
    await screen.findByText('emails:j1')
    fireEvent.click(screen.getByRole('button', { name: 'Requeue' }))
    await screen.findByText('Requeued emails:j1.')

    fireEvent.click(screen.getByRole('button', { name: 'Requeue all' }))
    await screen.findByText('Requeued 2 job(s) of queue emails.')
    const requeue = f.calls.filter((c) => c.method === 'POST' && c.url.split('?')[0].endsWith('/dlq/requeue'))
    expect(requeue.map((c) => c.url.replace(/^.*\/api\/v1/, ''))).toEqual(['/dlq/requeue?queue=emails'])
    expect(requeue[0].body).toBeUndefined()  // no job_ids: every dead letter of the queue

    fireEvent.click(screen.getByRole('button', { name: 'Purge…' }))
    expect(screen.getByRole('alertdialog', { name: 'confirm purge' }).textContent).toContain('queue emails')
    expect(f.calls.some((c) => c.method === 'DELETE')).toBe(false)
    fireEvent.click(screen.getByRole('button', { name: 'Yes, purge' }))
    await screen.findByText('Purged 3 dead letter(s) of queue emails.')
    expect(f.calls.filter((c) => c.method === 'DELETE').map((c) => c.url.replace(/^.*\/api\/v1/, ''))).toEqual(['/dlq?queue=emails'])
  })
})
