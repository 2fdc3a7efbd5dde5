import { useState } from 'react'
import { api } from '../api.js'
import { go } from '../hooks.js'
import { ErrorBox, GROUP_RE, QUEUE_RE } from './common.jsx'

export const TEMPLATES = {
  echo: { message: 'hello from the playground' },
  sleep: { seconds: 5 },
}

// Parses the data field: must be a JSON object. Returns [value, errorText].
export function parseData(text) {
  if (text.trim() === '') return [{}, null]
  let value
  try {
    value = JSON.parse(text)
  } catch (err) {
    return [null, `Data is not valid JSON: ${err.message}`]
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return [null, 'Data must be a JSON object, e.g. {"seconds": 5}']
  }
  return [value, null]
}

export default function Submit() {
  const [type, setType] = useState('echo')
  const [data, setData] = useState(JSON.stringify(TEMPLATES.echo, null, 2))
  const [priority, setPriority] = useState('normal')
  const [delay, setDelay] = useState('')
  const [queue, setQueue] = useState('')
  const [group, setGroup] = useState('')
  const [error, setError] = useState(null)
  const [busy, setBusy] = useState(false)
  const [submitted, setSubmitted] = useState(null)

  const useTemplate = (name) => {
    setType(name)
    setData(JSON.stringify(TEMPLATES[name], null, 2))
    setError(null)
  }

  const onSubmit = async (e) => {
    e.preventDefault()
    setError(null)
    if (!type.trim()) return setError('Job type is required')
    const [value, problem] = parseData(data)
    if (problem) return setError(problem)
    const job = { type: type.trim(), data: value, priority }
    if (queue.trim() !== '') {
      if (!QUEUE_RE.test(queue.trim())) {
        return setError('Queue must be 1 to 64 letters, digits, "_", "." or "-" (e.g. emails); leave it empty for the default queue')
      }
      job.queue = queue.trim()
    }
    if (group.trim() !== '') {
      if (!GROUP_RE.test(group.trim())) {
        return setError('Group must be 1 to 128 letters, digits or any of _ . : @ / - (e.g. tenant-42); leave it empty for none')
      }
      job.group = group.trim()
    }
    if (delay !== '') {
      const n = Number(delay)
      if (!Number.isFinite(n) || n < 0) return setError('Delay must be a number of seconds >= 0')
      job.delay_seconds = n
    }
    setBusy(true)
    try {
      const res = await api.submitJob(job)
      setSubmitted(res.job_id)
      go('jobs', res.job_id)
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
  }

  return (
    <section>
      <h2>Submit a job</h2>
      <div className="templates">
        Templates:{' '}
        {Object.keys(TEMPLATES).map((n) => (
          <button type="button" key={n} onClick={() => useTemplate(n)}>{n}</button>
        ))}
      </div>
      <form onSubmit={onSubmit} className="form" aria-label="submit job">
        <label>Type <input name="type" value={type} onChange={(e) => setType(e.target.value)} list="job-types" required /></label>
        <datalist id="job-types"><option value="echo" /><option value="sleep" /><option value="fail" /></datalist>
        <label>Data (JSON object)
          <textarea name="data" rows={6} value={data} onChange={(e) => setData(e.target.value)} spellCheck={false} />
        </label>
        <label>Priority
          <select name="priority" value={priority} onChange={(e) => setPriority(e.target.value)}>
            <option value="high">high</option><option value="normal">normal</option><option value="low">low</option>
          </select>
        </label>
        <label>Queue (optional, default: default)
          <input name="queue" value={queue} placeholder="default" onChange={(e) => setQueue(e.target.value)} />
        </label>
        <label>Group (optional: a tenant, a user; groups share the queue fairly)
          <input name="group" value={group} placeholder="none" onChange={(e) => setGroup(e.target.value)} />
        </label>
        <label>Delay (seconds, optional)
          <input name="delay" type="number" min="0" step="any" value={delay} onChange={(e) => setDelay(e.target.value)} />
        </label>
        <ErrorBox error={error} />
        <button type="submit" disabled={busy}>{busy ? 'Submitting…' : 'Submit job'}</button>
        {submitted && <p>Submitted job <a href={`#/jobs/${submitted}`} data-testid="submitted-id">{submitted}</a></p>}
      </form>
    </section>
  )
}
