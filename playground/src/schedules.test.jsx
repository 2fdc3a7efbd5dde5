import { afterEach, describe, expect, it, vi } from 'vitest'
import { fireEvent, render, screen, waitFor } from '@testing-library/react'
import Schedules from './components/Schedules.jsx'
import { fakeFetch } from './test/fakes.js'

const schedule = (over = {}) => ({
  name: 'nightly', cron: '30 2 * * *', every_seconds: null, timezone: 'Europe/Berlin',
  job: { type: 'echo', data: {}, priority: 1, max_attempts: null, timeout_seconds: null },
  start_at: null, end_at: null, max_runs: null, catch_up: 'one', paused: false, runs: 3,
  next_run_at: '2027-01-02T01:30:00Z', last_run_at: '2027-01-01T01:30:00Z',
  created_at: '2026-12-01T00:00:00Z', updated_at: '2026-12-01T00:00:00Z', ...over,
})

afterEach(() => vi.unstubAllGlobals())

describe('Schedules', () => {
  it('lists schedules with their next run, as text', async () => {
    const page = { items: [schedule(), schedule({ name: 'tick', cron: null, every_seconds: 5, paused: true, next_run_at: null, job: { type: '<b>x</b>' } })], next_cursor: null, count: 2 }
    vi.stubGlobal('fetch', fakeFetch([['GET', '/schedules', page]]))
    const { container } = render(<Schedules />)
    const row = await screen.findByText('cron 30 2 * * * (Europe/Berlin)')
    expect(row.closest('tr').querySelector('[data-testid=next-run] time').getAttribute('datetime')).toBe('2027-01-02T01:30:00Z')
    expect(screen.getByText('every 5 s')).toBeTruthy()
    expect(screen.getByText('<b>x</b>')).toBeTruthy()  // shown as text
    expect(container.querySelector('main b, table b')).toBeNull()
    expect(screen.getByRole('button', { name: 'Resume' })).toBeTruthy()
    expect(screen.getAllByTestId('schedule-queue').map((td) => td.textContent)).toEqual(['default', 'default'])
  })
  it('saves a schedule into a named queue and shows each one\'s queue', async () => {
    const f = fakeFetch([
      ['GET', '/schedules', { items: [schedule({ job: { type: 'report', queue: 'reports' } })], next_cursor: null, count: 1 }],
      ['POST', '/schedules', (body) => ({ name: body.name, next_run_at: '2027-01-01T00:00:10Z' })],
    ])
    vi.stubGlobal('fetch', f)
    render(<Schedules />)
    expect((await screen.findByTestId('schedule-queue')).textContent).toBe('reports')
    fireEvent.change(screen.getByLabelText(/^Name/), { target: { value: 'rep' } })
    fireEvent.change(screen.getByLabelText(/^Queue/), { target: { value: 'bad queue' } })
    fireEvent.click(screen.getByRole('button', { name: 'Save schedule' }))
    expect((await screen.findByRole('alert')).textContent).toMatch(/^Queue must be/)
    expect(f.calls.filter((c) => c.method === 'POST')).toEqual([])
    fireEvent.change(screen.getByLabelText(/^Queue/), { target: { value: 'reports' } })
    fireEvent.click(screen.getByRole('button', { name: 'Save schedule' }))
    await screen.findByText(/Saved rep/)
    const sent = f.calls.find((c) => c.method === 'POST' && c.url.endsWith('/schedules'))
    expect(sent.body.job).toEqual({ type: 'echo', data: { message: 'from a schedule' }, queue: 'reports' })
  })
  it('creates, pauses and triggers through the API', async () => {
    const f = fakeFetch([
      ['GET', '/schedules', { items: [schedule()], next_cursor: null, count: 1 }],
      ['POST', '/schedules', (body) => ({ name: body.name, next_run_at: '2027-01-01T00:00:10Z' })],
      ['POST', '/schedules/nightly/pause', { name: 'nightly', paused: true, next_run_at: null }],
      ['POST', '/schedules/nightly/trigger', { name: 'nightly', job_id: 'j-1', status: 'pending' }],
    ])
    vi.stubGlobal('fetch', f)
    render(<Schedules />)
    await screen.findByText('cron 30 2 * * * (Europe/Berlin)')
    fireEvent.change(screen.getByLabelText(/^Name/), { target: { value: 'every10' } })
    fireEvent.click(screen.getByRole('button', { name: 'Save schedule' }))
    await screen.findByText(/Saved every10/)
    const sent = f.calls.find((c) => c.method === 'POST' && c.url.endsWith('/schedules'))
    expect(sent.body).toEqual({ name: 'every10', every_seconds: 10, catch_up: 'one', job: { type: 'echo', data: { message: 'from a schedule' } } })
    fireEvent.click(screen.getByRole('button', { name: 'Pause' }))
    await screen.findByText('Paused nightly.')
    fireEvent.click(screen.getByRole('button', { name: 'Run now' }))
    await waitFor(() => expect(screen.getByRole('status').textContent).toBe('Triggered nightly: job j-1.'))
  })
  it('refuses a bad period without calling the API', async () => {
    const f = fakeFetch([['GET', '/schedules', { items: [], next_cursor: null, count: 0 }]])
    vi.stubGlobal('fetch', f)
    render(<Schedules />)
    await screen.findByTestId('schedules-empty')
    fireEvent.change(screen.getByLabelText(/^Name/), { target: { value: 'x' } })
    fireEvent.change(screen.getByLabelText(/Every/), { target: { value: '0.5' } })
    // past the browser's own check of the field (step 1), the form's
    fireEvent.submit(screen.getByRole('form', { name: 'create schedule' }))
    expect((await screen.findByRole('alert')).textContent).toMatch(/whole number/)
    expect(f.calls.filter((c) => c.method === 'POST')).toEqual([])
  })
})
