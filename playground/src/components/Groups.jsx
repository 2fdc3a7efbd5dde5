import { useCallback, useEffect, useRef, useState } from 'react'
import { api } from '../api.js'
import { usePoll } from '../hooks.js'
import { DEFAULT_QUEUE, ErrorBox, GROUP_RE, Time, useQueueNames } from './common.jsx'

const PAGE = 100

// A group's limits in one line: "concurrency 3, rate 10 / 60 s", or "none".
export function limitsText(limits) {
  if (!limits) return 'none'
  const parts = []
  if (limits.group_concurrency != null) parts.push(`concurrency ${limits.group_concurrency}`)
  if (limits.group_rate) parts.push(`rate ${limits.group_rate.max} / ${limits.group_rate.per_seconds} s`)
  return parts.join(', ') || 'none'
}

// The form's three fields as the API's body; every empty field is null (no such limit).
// Returns [body, errorText].
export function parseLimits({ concurrency, rateMax, ratePer }) {
  const body = { group_concurrency: null, group_rate: null }
  const c = concurrency.trim()
  if (c !== '') {
    if (!/^[0-9]+$/.test(c) || Number(c) < 1) return [null, 'Concurrency must be a whole number >= 1, or empty for none']
    body.group_concurrency = Number(c)
  }
  const m = rateMax.trim()
  const per = ratePer.trim()
  if ((m === '') !== (per === '')) return [null, 'A rate needs both its maximum and its window in seconds (or neither)']
  if (m !== '') {
    if (!/^[0-9]+$/.test(m) || Number(m) < 1) return [null, 'Rate maximum must be a whole number >= 1']
    const s = Number(per)
    if (!Number.isFinite(s) || s < 0.001) return [null, 'Rate window must be a number of seconds >= 0.001']
    body.group_rate = { max: Number(m), per_seconds: s }
  }
  return [body, null]
}

const fieldsOf = (limits) => ({
  concurrency: limits?.group_concurrency != null ? String(limits.group_concurrency) : '',
  rateMax: limits?.group_rate ? String(limits.group_rate.max) : '',
  ratePer: limits?.group_rate ? String(limits.group_rate.per_seconds) : '',
})

function LimitFields({ prefix, value, onChange }) {
  const set = (k) => (e) => onChange({ ...value, [k]: e.target.value })
  return (
    <div className="filters">
      <label>Concurrency (jobs at once)
        <input name={`${prefix}-concurrency`} inputMode="numeric" placeholder="none" value={value.concurrency} onChange={set('concurrency')} />
      </label>
      <label>Rate: at most
        <input name={`${prefix}-rate-max`} inputMode="numeric" placeholder="none" value={value.rateMax} onChange={set('rateMax')} />
      </label>
      <label>starts per (seconds)
        <input name={`${prefix}-rate-per`} inputMode="decimal" placeholder="none" value={value.ratePer} onChange={set('ratePer')} />
      </label>
    </div>
  )
}

// A queue's groups (SPEC §13): each one's ready and running jobs, whether a limit holds it back
// and until when, the limits that apply; forms for the queue's default limits and a group's own
// (admin keys). Every server string (a group's name came from whoever submitted a job) is a
// React text node.
export default function Groups({ queue }) {
  const [page, setPage] = useState(null)
  const [defaults, setDefaults] = useState(undefined)
  const [cursor, setCursor] = useState(null)
  const [error, setError] = useState(null)
  const [notice, setNotice] = useState(null)
  const [queueForm, setQueueForm] = useState(fieldsOf(null))
  const [group, setGroup] = useState('')
  const [groupForm, setGroupForm] = useState(fieldsOf(null))
  // the default limits' form starts from the stored ones, once per queue (a poll must not
  // overwrite what is being typed)
  const seeded = useRef(null)

  useEffect(() => {
    setPage(null)
    setDefaults(undefined)
    setCursor(null)
    setNotice(null)
    setError(null)
  }, [queue])


  const load = useCallback(async () => {
    try {
      const [groups, info] = await Promise.all([
        api.listGroups(queue, { limit: PAGE, cursor }),
        api.getQueue(queue).catch((err) => (err.status === 404 ? { limits: null } : Promise.reject(err))),
      ])
      setPage(groups)
      setDefaults(info.limits)
      if (seeded.current !== queue) {
        seeded.current = queue
        setQueueForm(fieldsOf(info.limits))
      }
    } catch (err) {
      if (err.status === 404) setPage({ items: [], next_cursor: null, count: 0 })
      else setError(err)
    }
  }, [queue, cursor])
  usePoll(load, 2000, [load])

  const act = async (fn, text) => {
    setError(null)
    setNotice(null)
    try {
      setNotice(text(await fn()))
      await load()
    } catch (err) {
      setError(err)
    }
  }

  const saveDefaults = (e) => {
    e.preventDefault()
    const [body, problem] = parseLimits(queueForm)
    if (problem) return setError(problem)
    act(() => api.setQueueLimits(queue, body), (r) => {
      setDefaults(r.limits)
      return `Default limits of ${r.queue}: ${limitsText(r.limits)}.`
    })
  }

  const checkGroup = () => {
    const g = group.trim()
    if (!GROUP_RE.test(g)) {
      setError('Group must be 1 to 128 letters, digits or any of _ . : @ / - (e.g. tenant-42)')
      return null
    }
    return g
  }

  const saveGroup = (e) => {
    e.preventDefault()
    const g = checkGroup()
    if (g === null) return
    const [body, problem] = parseLimits(groupForm)
    if (problem) return setError(problem)
    act(() => api.setGroupLimits(queue, g, body), (r) => `Group ${r.group} has its own limits: ${limitsText(r.limits)}.`)
  }

  const clearGroup = (name) => act(() => api.clearGroupLimits(queue, name),
    (r) => `Group ${r.group} follows the queue's default again (${limitsText(r.limits)}).`)

  const edit = (g) => {
    setGroup(g.name)
    setGroupForm(fieldsOf(g.limits))
  }

  return (
    <div data-testid="groups" data-groups-of={queue}>
      <h3>Groups of <code>{queue}</code></h3>
      <p className="muted">Inside a priority, ready jobs of different groups take turns (fair share); a group's limits hold back only that group.</p>
      {notice && <p className="notice" role="status">{notice}</p>}
      <ErrorBox error={error} />
      {page && page.items.length === 0 && <p className="muted" data-testid="groups-empty">No group has jobs ready or running, or limits of its own.</p>}
      {page && page.items.length > 0 && (
        <table className="list" data-testid="group-list">
          <thead><tr><th>group</th><th>ready</th><th>running</th><th>limited until</th><th>limits</th><th /></tr></thead>
          <tbody>
            {page.items.map((g) => (
              <tr key={g.name} data-group={g.name}>
                <td><code>{g.name}</code></td>
                <td data-testid="ready">{g.ready}</td>
                <td data-testid="running">{g.running}</td>
                <td data-testid="limited-until">
                  {g.limited_until ? <Time value={g.limited_until} /> : g.limited ? 'a running job ends' : <span className="muted">—</span>}
                </td>
                <td data-testid="limits">{limitsText(g.limits)}{g.own_limits ? ' (own)' : ' (default)'}</td>
                <td className="actions">
                  <button type="button" onClick={() => edit(g)}>Edit</button>
                  {g.own_limits && <button type="button" onClick={() => clearGroup(g.name)}>Clear own limits</button>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {page && (cursor || page.next_cursor) && (
        <div className="pager">
          <button type="button" disabled={!cursor} onClick={() => setCursor(null)}>← First</button>
          <button type="button" disabled={!page.next_cursor} onClick={() => setCursor(page.next_cursor)}>Next →</button>
        </div>
      )}
      <form onSubmit={saveDefaults} className="form" aria-label="default limits">
        <h4>Default limits of each group (now: <span data-testid="default-limits">{defaults === undefined ? '…' : limitsText(defaults)}</span>)</h4>
        <LimitFields prefix="queue" value={queueForm} onChange={setQueueForm} />
        <button type="submit">Save default limits</button>
      </form>
      <form onSubmit={saveGroup} className="form" aria-label="group limits">
        <h4>A group's own limits (they replace the default)</h4>
        <label>Group <input name="group" value={group} placeholder="tenant-42" onChange={(e) => setGroup(e.target.value)} /></label>
        <LimitFields prefix="group" value={groupForm} onChange={setGroupForm} />
        <div className="toolbar">
          <button type="submit">Save group limits</button>
          <button type="button" onClick={() => { const g = checkGroup(); if (g !== null) clearGroup(g) }}>Clear group limits</button>
        </div>
      </form>
    </div>
  )
}

// The Groups section of the Queues page: a queue to look at (default: default), then its groups.
export function QueueGroups() {
  const names = useQueueNames()
  const [queue, setQueue] = useState(DEFAULT_QUEUE)
  return (
    <section className="inspect">
      <label className="inline">Groups of the queue{' '}
        <select aria-label="groups of queue" value={queue} onChange={(e) => setQueue(e.target.value)}>
          {[...new Set([...names, queue])].map((n) => <option key={n} value={n}>{n}</option>)}
        </select>
      </label>
      <Groups queue={queue} />
    </section>
  )
}
