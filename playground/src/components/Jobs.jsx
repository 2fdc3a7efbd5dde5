import { useCallback, useEffect, useRef, useState } from 'react'
import { api } from '../api.js'
import { useLive, usePoll, useSocketState } from '../hooks.js'
import { CANCELLABLE, DEFAULT_QUEUE, ErrorBox, Json, PRIORITY_NAMES, Pager, QueueSelect, Status, TERMINAL, Time, useCursorStack } from './common.jsx'

const STATUSES = ['pending', 'scheduled', 'running', 'retrying', 'completed', 'failed', 'cancelled']
const PAGE = 20

export function JobList() {
  const [queue, setQueue] = useState(DEFAULT_QUEUE)
  const [status, setStatus] = useState('')
  const [type, setType] = useState('')
  const [page, setPage] = useState(null)
  const [error, setError] = useState(null)
  const pager = useCursorStack()
  const socket = useSocketState()
  const timer = useRef(null)

  const load = useCallback(async () => {
    try {
      setPage(await api.listJobs({ queue, status, type: type.trim(), limit: PAGE, cursor: pager.cursor }))
      setError(null)
    } catch (err) {
      setError(err)
    }
  }, [queue, status, type, pager.cursor])

  useEffect(() => { load() }, [load])
  // pushes refresh the page (debounced); without a socket, poll
  usePoll(() => socket !== 'open' && load(), 3000, [load, socket])
  useLive({ topic: 'all' }, (m) => {
    if (m.type !== 'job_update') return
    setPage((p) => p && { ...p, items: p.items.map((j) => (j.id === m.job_id ? merge(j, m) : j)) })
    clearTimeout(timer.current)
    timer.current = setTimeout(load, 300)
  })
  useEffect(() => () => clearTimeout(timer.current), [])

  return (
    <section>
      <h2>Jobs</h2>
      <div className="filters">
        <QueueSelect value={queue} onChange={(v) => { setQueue(v); pager.reset() }} />
        <label>Status
          <select aria-label="status filter" value={status} onChange={(e) => { setStatus(e.target.value); pager.reset() }}>
            <option value="">any</option>
            {STATUSES.map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </label>
        <label>Type <input aria-label="type filter" value={type} placeholder="any" onChange={(e) => { setType(e.target.value); pager.reset() }} /></label>
        <button type="button" onClick={load}>Refresh</button>
      </div>
      <ErrorBox error={error} />
      {page && page.items.length === 0 && <p className="muted">No jobs.</p>}
      {page && page.items.length > 0 && (
        <table className="list" data-testid="job-list">
          <thead><tr><th>id</th><th>queue</th><th>type</th><th>status</th><th>priority</th><th>attempts</th><th>created</th></tr></thead>
          <tbody>
            {page.items.map((j) => (
              <tr key={j.id} data-job-id={j.id}>
                <td><a href={`#/jobs/${j.id}`}><code>{j.id}</code></a></td>
                <td data-testid="job-queue">{j.queue ?? DEFAULT_QUEUE}</td>
                <td>{j.type}</td>
                <td><Status value={j.status} /></td>
                <td>{PRIORITY_NAMES[j.priority] ?? j.priority}</td>
                <td>{j.attempts}/{j.max_attempts}</td>
                <td><Time value={j.created_at} /></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager hasPrev={pager.hasPrev} hasNext={Boolean(page && page.next_cursor)} onPrev={pager.prev} onNext={() => pager.next(page.next_cursor)} />
    </section>
  )
}

// Applies a push to a job. A push never moves a finished job back to an unfinished state
// (pushes can arrive out of order); its data, when present, is the job read at push time.
export function merge(job, msg) {
  const pushed = msg.data && typeof msg.data === 'object' && msg.data.id ? msg.data : null
  const next = pushed ? { ...job, ...pushed } : { ...job }
  const status = pushed ? pushed.status : msg.status
  if (job && TERMINAL.includes(job.status) && !TERMINAL.includes(status)) return job
  next.status = status || next.status
  return next
}

// progress is any JSON value; a number (0..1 or 0..100) or {percent} shows as a bar
export function percentOf(p) {
  const n = typeof p === 'number' ? (p <= 1 ? p * 100 : p) : p && typeof p.percent === 'number' ? p.percent : null
  return n === null ? null : Math.round(Math.max(0, Math.min(100, n)))
}

export function JobDetail({ id }) {
  const [job, setJob] = useState(null)
  const [error, setError] = useState(null)
  const [actionError, setActionError] = useState(null)
  const socket = useSocketState()

  const load = useCallback(async () => {
    try {
      setJob(await api.getJob(id))
      setError(null)
    } catch (err) {
      setError(err)
    }
  }, [id])

  useEffect(() => { setJob(null); load() }, [load])
  usePoll(() => socket !== 'open' && job && !TERMINAL.includes(job.status) && load(), 2000, [load, socket, job && job.status])
  useLive({ job_id: id }, (m) => {
    if (m.job_id !== id || (m.type !== 'job_update' && m.type !== 'subscribed')) return
    setJob((j) => (j ? merge(j, m) : j))
    if (TERMINAL.includes(m.status)) load() // the final word comes from the API
  })

  const cancel = async () => {
    setActionError(null)
    try {
      const res = await api.cancelJob(id)
      setJob((j) => (j && !TERMINAL.includes(j.status) ? { ...j, status: res.status } : j))
      load()
    } catch (err) {
      setActionError(err)
    }
  }

  if (error) return <section><h2>Job {id}</h2><ErrorBox error={error} /></section>
  if (!job) return <section><h2>Job {id}</h2><p className="muted">Loading…</p></section>
  const p = job.progress
  return (
    <section>
      <h2>Job <code>{job.id}</code></h2>
      <p>Status: <span data-testid="job-status"><Status value={job.status} /></span>
        {job.cancel_requested && job.status === 'running' && <span className="muted"> (cancel requested)</span>}
        {CANCELLABLE.includes(job.status) && <button type="button" className="danger" onClick={cancel}>Cancel</button>}
      </p>
      <ErrorBox error={actionError} />
      {p !== null && p !== undefined && (
        <div className="progress" data-testid="job-progress">
          Progress: {percentOf(p) !== null ? <><progress max="100" value={percentOf(p)} /> {percentOf(p)}%</> : <Json value={p} />}
        </div>
      )}
      <dl className="fields">
        <dt>queue</dt><dd data-testid="job-queue">{job.queue ?? DEFAULT_QUEUE}</dd>
        {job.group != null && <><dt>group</dt><dd data-testid="job-group">{job.group}</dd></>}
        <dt>type</dt><dd>{job.type}</dd>
        <dt>priority</dt><dd>{PRIORITY_NAMES[job.priority] ?? job.priority}</dd>
        <dt>attempts</dt><dd>{job.attempts} of {job.max_attempts}</dd>
        <dt>timeout</dt><dd>{job.timeout_seconds} s</dd>
        <dt>created</dt><dd><Time value={job.created_at} /></dd>
        <dt>scheduled</dt><dd><Time value={job.scheduled_at} /></dd>
        <dt>started</dt><dd><Time value={job.started_at} /></dd>
        <dt>finished</dt><dd><Time value={job.finished_at} /></dd>
        {job.workflow_id && <><dt>workflow</dt><dd><a href={`#/workflows/${job.workflow_id}`}>{job.workflow_id}</a> step {job.step_id}</dd></>}
        {job.idempotency_key && <><dt>idempotency key</dt><dd>{job.idempotency_key}</dd></>}
      </dl>
      <h3>Data</h3><Json value={job.data} testid="job-data" />
      <h3>Result</h3><Json value={job.result} testid="job-result" />
      <h3>Last error</h3>
      {job.last_error ? <p className="error-text" data-testid="job-error"><b>{job.last_error.category}</b>: {job.last_error.message}</p> : <span className="muted">—</span>}
    </section>
  )
}
