import { afterEach, describe, expect, it, vi } from 'vitest'
import { fireEvent, render, screen, waitFor, within } from '@testing-library/react'
import Groups, { QueueGroups, limitsText, parseLimits } from './components/Groups.jsx'
import Submit from './components/Submit.jsx'
import { JobDetail } from './components/Jobs.jsx'
import { fakeFetch } from './test/fakes.js'

const group = (over = {}) => ({
  name: 'tenant-1', ready: 3, running: 1, limited: false, limited_until: null,
  limits: null, own_limits: false, ...over,
})
const page = (items, next_cursor = null) => ({ items, next_cursor, count: items.length })
const queue = (limits = null) => ({ name: 'emails', paused: false, pending: 4, running: 1, scheduled: 0, retrying: 0, dead_letter: 0, limits, stats: {} })
const path = (c) => c.url.replace(/^.*\/api\/v1/, '')

afterEach(() => vi.unstubAllGlobals())

describe('limits', () => {
  it('says a group\'s limits in one line', () => {
    expect(limitsText(null)).toBe('none')
    expect(limitsText({ group_concurrency: 3, group_rate: null })).toBe('concurrency 3')
    expect(limitsText({ group_concurrency: 3, group_rate: { max: 10, per_seconds: 1.5 } })).toBe('concurrency 3, rate 10 / 1.5 s')
    expect(limitsText({ group_concurrency: null, group_rate: null })).toBe('none')
  })
  it('reads the form into the API\'s body, empty fields as null', () => {
    expect(parseLimits({ concurrency: '', rateMax: '', ratePer: '' })).toEqual([{ group_concurrency: null, group_rate: null }, null])
    expect(parseLimits({ concurrency: ' 4 ', rateMax: '10', ratePer: '0.5' })).toEqual([{ group_concurrency: 4, group_rate: { max: 10, per_seconds: 0.5 } }, null])
  })
  it.each([
    [{ concurrency: '0', rateMax: '', ratePer: '' }, /^Concurrency/],
    [{ concurrency: '1.5', rateMax: '', ratePer: '' }, /^Concurrency/],
    [{ concurrency: '', rateMax: '10', ratePer: '' }, /both/],
    [{ concurrency: '', rateMax: '', ratePer: '3' }, /both/],
    [{ concurrency: '', rateMax: '-1', ratePer: '3' }, /^Rate maximum/],
    [{ concurrency: '', rateMax: '1', ratePer: '0.0001' }, /^Rate window/],
    [{ concurrency: '', rateMax: '1', ratePer: 'x' }, /^Rate window/],
  ])('refuses %j', (fields, words) => {
    const [body, problem] = parseLimits(fields)
    expect(body).toBeNull()
    expect(problem).toMatch(words)
  })
})

describe('Groups', () => {
  it('lists the queue\'s groups with ready, running, limited until and limits, names as text', async () => {
    const until = '2030-01-01T00:00:00Z'
    const items = [
      group({ name: '<img src=x onerror=alert(1)>' }),
      group({ name: 'team/a', ready: 2, running: 2, limited: true, limits: { group_concurrency: 2, group_rate: null }, own_limits: true }),
      group({ name: 'api@x', ready: 5, running: 0, limited: true, limited_until: until, limits: { group_concurrency: null, group_rate: { max: 1, per_seconds: 60 } } }),
    ]
    const f = fakeFetch([['GET', '/queues/emails/groups', page(items)], ['GET', '/queues/emails', queue()]])
    vi.stubGlobal('fetch', f)
    const { container } = render(<Groups queue="emails" />)
    const held = (await screen.findByText('team/a')).closest('tr')
    expect(held.querySelector('[data-testid=ready]').textContent).toBe('2')
    expect(held.querySelector('[data-testid=running]').textContent).toBe('2')
    expect(held.querySelector('[data-testid=limited-until]').textContent).toBe('a running job ends')
    expect(held.querySelector('[data-testid=limits]').textContent).toBe('concurrency 2 (own)')
    const rated = screen.getByText('api@x').closest('tr')
    expect(rated.querySelector('time').getAttribute('datetime')).toBe(until)
    expect(rated.querySelector('[data-testid=limits]').textContent).toBe('rate 1 / 60 s (default)')
    expect(screen.getByText('<img src=x onerror=alert(1)>').closest('tr').querySelector('[data-testid=limited-until]').textContent).toBe('—')
    expect(container.querySelector('img')).toBeNull()
    expect(within(held).getByRole('button', { name: 'Clear own limits' })).toBeTruthy()
    expect(within(rated).queryByRole('button', { name: 'Clear own limits' })).toBeNull()
    expect(screen.getByTestId('default-limits').textContent).toBe('none')
    expect(f.calls[0].url).toContain('limit=100')
  })
  it('pages with the next cursor', async () => {
    const f = fakeFetch([
      ['GET', '/queues/emails/groups', (_b, url) => (url.includes('cursor=b') ? page([group({ name: 'c' })]) : page([group({ name: 'a' }), group({ name: 'b' })], 'b'))],
      ['GET', '/queues/emails', queue()],
    ])
    vi.stubGlobal('fetch', f)
    render(<Groups queue="emails" />)
    await screen.findByText('a')
    fireEvent.click(screen.getByRole('button', { name: 'Next →' }))
    await screen.findByText('c')
    expect(screen.queryByText('a')).toBeNull()
  })
  it('saves the queue\'s default limits, starting from the stored ones', async () => {
    let stored = { group_concurrency: 2, group_rate: null }
    const f = fakeFetch([
      ['GET', '/queues/emails/groups', page([])],
      ['GET', '/queues/emails', () => queue(stored)],
      ['PUT', '/queues/emails/limits', (body) => { stored = body; return { queue: 'emails', limits: body } }],
    ])
    vi.stubGlobal('fetch', f)
    render(<Groups queue="emails" />)
    await waitFor(() => expect(screen.getByTestId('default-limits').textContent).toBe('concurrency 2'))
    expect(screen.getByRole('form', { name: 'default limits' }).querySelector('input[name=queue-concurrency]').value).toBe('2')
    const form = screen.getByRole('form', { name: 'default limits' })
    fireEvent.change(form.querySelector('input[name=queue-rate-max]'), { target: { value: '10' } })
    fireEvent.change(form.querySelector('input[name=queue-rate-per]'), { target: { value: '60' } })
    fireEvent.click(within(form).getByRole('button', { name: 'Save default limits' }))
    await screen.findByText('Default limits of emails: concurrency 2, rate 10 / 60 s.')
    expect(f.calls.find((c) => c.method === 'PUT').body).toEqual({ group_concurrency: 2, group_rate: { max: 10, per_seconds: 60 } })
    expect(screen.getByTestId('default-limits').textContent).toBe('concurrency 2, rate 10 / 60 s')
  })
  it('sets and clears a group\'s own limits, a \'/\' in its name sent as %2F', async () => {
    const f = fakeFetch([
      ['GET', '/queues/emails/groups', page([group({ name: 'team/a', limits: { group_concurrency: 1, group_rate: null }, own_limits: true })])],
      ['GET', '/queues/emails', queue()],
      ['PUT', '/queues/emails/groups/team%2Fa/limits', (body) => ({ queue: 'emails', group: 'team/a', limits: body, own_limits: true })],
      ['DELETE', '/queues/emails/groups/team%2Fa/limits', { queue: 'emails', group: 'team/a', limits: null, own_limits: false }],
    ])
    vi.stubGlobal('fetch', f)
    render(<Groups queue="emails" />)
    fireEvent.click(await screen.findByRole('button', { name: 'Edit' }))
    const form = screen.getByRole('form', { name: 'group limits' })
    expect(form.querySelector('input[name=group]').value).toBe('team/a')
    expect(form.querySelector('input[name=group-concurrency]').value).toBe('1')
    fireEvent.change(form.querySelector('input[name=group-concurrency]'), { target: { value: '3' } })
    fireEvent.click(within(form).getByRole('button', { name: 'Save group limits' }))
    await screen.findByText('Group team/a has its own limits: concurrency 3.')
    fireEvent.click(screen.getByRole('button', { name: 'Clear own limits' }))
    await screen.findByText('Group team/a follows the queue\'s default again (none).')
    expect(f.calls.filter((c) => c.method !== 'GET').map((c) => [c.method, path(c), c.body])).toEqual([
      ['PUT', '/queues/emails/groups/team%2Fa/limits', { group_concurrency: 3, group_rate: null }],
      ['DELETE', '/queues/emails/groups/team%2Fa/limits', undefined],
    ])
  })
  it.each(['', 'a b', 'x'.repeat(129), 'a%b'])('refuses the group name %j without calling the API', async (name) => {
    const f = fakeFetch([['GET', '/queues/emails/groups', page([])], ['GET', '/queues/emails', queue()]])
    vi.stubGlobal('fetch', f)
    render(<Groups queue="emails" />)
    const form = screen.getByRole('form', { name: 'group limits' })
    fireEvent.change(form.querySelector('input[name=group]'), { target: { value: name } })
    fireEvent.change(form.querySelector('input[name=group-concurrency]'), { target: { value: '1' } })
    fireEvent.click(within(form).getByRole('button', { name: 'Save group limits' }))
    expect((await screen.findByRole('alert')).textContent).toMatch(/^Group must be 1 to 128/)
    fireEvent.click(within(form).getByRole('button', { name: 'Clear group limits' }))
    expect(f.calls.filter((c) => c.method !== 'GET')).toEqual([])
  })
  it('refuses bad limits without calling the API, and shows the server\'s refusal', async () => {
    const f = fakeFetch([
      ['GET', '/queues/emails/groups', page([])],
      ['GET', '/queues/emails', queue()],
      ['PUT', '/queues/emails/limits', { __status: 403, error: 'the key\'s scope \'read\' may not call PUT' }],
    ])
    vi.stubGlobal('fetch', f)
    render(<Groups queue="emails" />)
    const form = screen.getByRole('form', { name: 'default limits' })
    fireEvent.change(form.querySelector('input[name=queue-concurrency]'), { target: { value: '0' } })
    fireEvent.click(within(form).getByRole('button', { name: 'Save default limits' }))
    expect((await screen.findByRole('alert')).textContent).toMatch(/^Concurrency must be/)
    expect(f.calls.filter((c) => c.method === 'PUT')).toEqual([])
    fireEvent.change(form.querySelector('input[name=queue-concurrency]'), { target: { value: '1' } })
    fireEvent.click(within(form).getByRole('button', { name: 'Save default limits' }))
    await waitFor(() => expect(screen.getByRole('alert').textContent).toBe('403: the key\'s scope \'read\' may not call PUT'))
  })
  it('the Groups section shows the chosen queue\'s groups', async () => {
    const f = fakeFetch([
      ['GET', '/queues', { queues: [queue(), { ...queue(), name: 'default' }] }],
      ['GET', '/queues/default/groups', page([group({ name: 'in-default' })])],
      ['GET', '/queues/emails/groups', page([group({ name: 'in-emails' })])],
      ['GET', '/queues/emails', queue()],
      ['GET', '/queues/default', { ...queue(), name: 'default' }],
    ])
    vi.stubGlobal('fetch', f)
    render(<QueueGroups />)
    await screen.findByText('in-default')
    await screen.findByRole('option', { name: 'emails' })
    fireEvent.change(screen.getByLabelText('groups of queue'), { target: { value: 'emails' } })
    await screen.findByText('in-emails')
    expect(screen.queryByText('in-default')).toBeNull()
    expect(screen.getByTestId('groups').getAttribute('data-groups-of')).toBe('emails')
  })
})

describe('Submit with a group', () => {
  it('sends the group when one is given, none when the field is empty', async () => {
    const f = fakeFetch([['POST', '/jobs', { job_id: 'j1', status: 'pending' }]])
    vi.stubGlobal('fetch', f)
    render(<Submit />)
    fireEvent.click(screen.getByRole('button', { name: 'Submit job' }))
    await waitFor(() => expect(f.calls).toHaveLength(1))
    expect(f.calls[0].body).not.toHaveProperty('group')
    fireEvent.change(screen.getByLabelText(/^Group/), { target: { value: ' tenant:a/b@c ' } })
    fireEvent.click(screen.getByRole('button', { name: 'Submit job' }))
    await waitFor(() => expect(f.calls).toHaveLength(2))
    expect(f.calls[1].body).toMatchObject({ type: 'echo', group: 'tenant:a/b@c' })
  })
  it.each(['bad name', 'x'.repeat(129), 'a#b'])('refuses the group %j without calling the API', async (name) => {
    const f = fakeFetch([])
    vi.stubGlobal('fetch', f)
    render(<Submit />)
    fireEvent.change(screen.getByLabelText(/^Group/), { target: { value: name } })
    fireEvent.click(screen.getByRole('button', { name: 'Submit job' }))
    expect((await screen.findByRole('alert')).textContent).toMatch(/^Group must be 1 to 128/)
    expect(f).not.toHaveBeenCalled()
  })
  it('the job page shows its group', async () => {
    const job = { id: 'j1', queue: 'default', group: 'team/<b>a</b>', type: 'echo', data: {}, priority: 1, status: 'pending', attempts: 0, max_attempts: 3, created_at: '2026-01-01T00:00:00Z' }
    vi.stubGlobal('fetch', fakeFetch([['GET', '/jobs/j1', job]]))
    const { container } = render(<JobDetail id="j1" />)
    expect((await screen.findByTestId('job-group')).textContent).toBe('team/<b>a</b>')
    expect(container.querySelector('dd b')).toBeNull()
  })
})
