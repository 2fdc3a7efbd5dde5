// Schedules (SPEC §12): list them with their next run, create one, pause/resume, trigger and
// delete. Every value is rendered as text (React text nodes), never as HTML.
import { useCallback, useState } from 'react'
import { api } from '../api.js'
import { usePoll } from '../hooks.js'
import { ConfirmButton, DEFAULT_QUEUE, ErrorBox, QUEUE_RE, Time } from './common.jsx'
import { parseData } from './Submit.jsx'

export function when(s) {
  if (s.cron) return `cron ${s.cron}${s.timezone && s.timezone !== 'UTC' ? ` (${s.timezone})` : ''}`
  return `every ${s.every_seconds} s`
}

function CreateSchedule({ onCreated, setError }) {
  const [name, setName] = useState('')
  const [kind, setKind] = useState('every')
  const [cron, setCron] = useState('*/5 * * * *')
  const [every, setEvery] = useState('10')
  const [timezone, setTimezone] = useState('UTC')
  const [type, setType] = useState('echo')
  const [queue, setQueue] = useState('')
  const [data, setData] = useState('{"message": "from a schedule"}')
  const [catchUp, setCatchUp] = useState('one')
  const [busy, setBusy] = useState(false)

  const onSubmit = async (e) => {
    e.preventDefault()
    setError(null)
    const [value, problem] = parseData(data)
    if (problem) return setError(problem)
    const body = { name: name.trim(), job: { type: type.trim(), data: value }, catch_up: catchUp }
    if (queue.trim() !== '') {
      if (!QUEUE_RE.test(queue.trim())) {
        return setError('Queue must be 1 to 64 letters, digits, "_", "." or "-" (e.g. reports); leave it empty for the default queue')
      }
      body.job.queue = queue.trim()
    }
    if (kind === 'cron') {
      body.cron = cron.trim()
      body.timezone = timezone.trim() || 'UTC'
    } else {
      const n = Number(every)
      if (!Number.isInteger(n) || n < 1) return setError('Every must be a whole number of seconds >= 1')
      body.every_seconds = n
    }
    setBusy(true)
    try {
      const res = await api.saveSchedule(body)
      onCreated(res)
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
  }

  return (
    <form onSubmit={onSubmit} className="form" aria-label="create schedule">
      <label>Name <input name="schedule-name" value={name} onChange={(e) => setName(e.target.value)} required /></label>
      <label>Runs
        <select name="kind" value={kind} onChange={(e) => setKind(e.target.value)}>
          <option value="every">every N seconds</option><option value="cron">on a cron expression</option>
        </select>
      </label>
      {kind === 'cron' ? (
        <>
          <label>Cron (5 fields, or 6 with seconds first) <input name="cron" value={cron} onChange={(e) => setCron(e.target.value)} /></label>
          <label>Time zone (IANA) <input name="timezone" value={timezone} onChange={(e) => setTimezone(e.target.value)} /></label>
        </>
      ) : (
        <label>Every (seconds) <input name="every" type="number" min="1" step="1" value={every} onChange={(e) => setEvery(e.target.value)} /></label>
      )}
      <label>Job type <input name="job-type" value={type} onChange={(e) => setType(e.target.value)} required /></label>
      <label>Queue <input name="job-queue" value={queue} placeholder={DEFAULT_QUEUE} onChange={(e) => setQueue(e.target.value)} /></label>
      <label>Job data (JSON object)
        <textarea name="job-data" rows={3} value={data} onChange={(e) => setData(e.target.value)} spellCheck={false} />
      </label>
      <label>Missed occurrences
        <select name="catch-up" value={catchUp} onChange={(e) => setCatchUp(e.target.value)}>
          <option value="one">one job for the latest</option><option value="all">one job each</option><option value="skip">skip them</option>
        </select>
      </label>
      <button type="submit" disabled={busy}>{busy ? 'Saving…' : 'Save schedule'}</button>
    </form>
  )
}

export default function Schedules() {
  const [page, setPage] = useState(null)
  const [error, setError] = useState(null)
  const [notice, setNotice] = useState(null)

  const load = useCallback(async () => {
    try {
      setPage(await api.listSchedules({ limit: 100 }))
    } catch (err) {
      setError(err)
    }
  }, [])
  usePoll(load, 2000, [load])

  const act = async (fn, text) => {
    setError(null)
    try {
      setNotice(text(await fn()))
      await load()
    } catch (err) {
      setError(err)
    }
  }

  const items = page ? page.items : []
  return (
    <section>
      <h2>Schedules</h2>
      {notice && <p className="notice" role="status">{notice}</p>}
      <ErrorBox error={error} />
      {page && items.length === 0 && <p className="muted" data-testid="schedules-empty">No schedules yet.</p>}
      {items.length > 0 && (
        <table className="list" data-testid="schedule-list">
          <thead><tr><th>name</th><th>when</th><th>job</th><th>queue</th><th>next run</th><th>last run</th><th>runs</th><th>state</th><th /></tr></thead>
          <tbody>
            {items.map((s) => (
              <tr key={s.name} data-schedule={s.name}>
                <td><code>{s.name}</code></td>
                <td>{when(s)}</td>
                <td>{s.job.type}</td>
                <td data-testid="schedule-queue">{s.job.queue || DEFAULT_QUEUE}</td>
                <td data-testid="next-run"><Time value={s.next_run_at} /></td>
                <td><Time value={s.last_run_at} /></td>
                <td data-testid="runs">{s.runs}</td>
                <td data-testid="state">{s.paused ? 'paused' : 'active'}</td>
                <td className="actions">
                  {s.paused
                    ? <button type="button" onClick={() => act(() => api.resumeSchedule(s.name), () => `Resumed ${s.name}.`)}>Resume</button>
                    : <button type="button" onClick={() => act(() => api.pauseSchedule(s.name), () => `Paused ${s.name}.`)}>Pause</button>}{' '}
                  <button type="button" onClick={() => act(() => api.triggerSchedule(s.name), (r) => `Triggered ${s.name}: job ${r.job_id}.`)}>Run now</button>{' '}
                  <ConfirmButton name={`delete ${s.name}`} label="Delete…" question={`Delete schedule ${s.name}?`} yes="Yes, delete"
                    onConfirm={() => act(() => api.deleteSchedule(s.name), () => `Deleted ${s.name}.`)} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h3>Create or replace a schedule</h3>
      <CreateSchedule setError={setError} onCreated={(r) => { setNotice(`Saved ${r.name}; next run ${r.next_run_at || 'none'}.`); load() }} />
    </section>
  )
}
