import { useCallback, useState } from 'react'
import { api } from '../api.js'
import { usePoll } from '../hooks.js'
import { ErrorBox } from './common.jsx'
import { QueueGroups } from './Groups.jsx'

const WINDOW_MS = 5 * 60 * 1000
// samples survive navigation so the chart keeps its history while the page is open
const history = []

export function addSample(samples, stats, now = Date.now()) {
  const t = stats.totals || {}
  samples.push({ t: now, done: (t.completed || 0) + (t.failed || 0) + (t.cancelled || 0), submitted: t.submitted || 0 })
  while (samples.length && samples[0].t < now - WINDOW_MS) samples.shift()
  return samples
}

// jobs finished per second between consecutive samples
export function rates(samples) {
  const out = []
  for (let i = 1; i < samples.length; i += 1) {
    const dt = (samples[i].t - samples[i - 1].t) / 1000
    if (dt > 0) out.push({ t: samples[i].t, rate: Math.max(0, samples[i].done - samples[i - 1].done) / dt })
  }
  return out
}

export function ThroughputChart({ points, width = 600, height = 120 }) {
  if (points.length < 1) return <p className="muted">Collecting samples…</p>
  const max = Math.max(1, ...points.map((p) => p.rate))
  const end = points[points.length - 1].t
  const x = (t) => width - ((end - t) / WINDOW_MS) * width
  const y = (r) => height - (r / max) * (height - 10)
  const path = points.map((p, i) => `${i ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.rate).toFixed(1)}`).join(' ')
  return (
    <figure>
      <svg className="chart" width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label="throughput chart" data-testid="throughput-chart">
        <rect width={width} height={height} className="chart-bg" />
        <path d={path} fill="none" stroke="#2a7ae2" strokeWidth="2" />
        <circle cx={x(end)} cy={y(points[points.length - 1].rate)} r="3" fill="#2a7ae2" />
        <text x="4" y="12" className="chart-label">{max.toFixed(1)} jobs/s</text>
        <text x="4" y={height - 4} className="chart-label">0</text>
      </svg>
      <figcaption>Jobs finished per second, last 5 minutes (now: {points[points.length - 1].rate.toFixed(2)}/s)</figcaption>
    </figure>
  )
}

// The named queues (SPEC §11): each one's depths, paused or not, and pause/resume. Every value
// is text (React text nodes): a queue's name came from whoever submitted a job.
export function QueueList() {
  const [queues, setQueues] = useState(null)
  const [error, setError] = useState(null)
  const [notice, setNotice] = useState(null)

  const load = useCallback(async () => {
    try {
      setQueues((await api.listQueues()).queues)
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

  return (
    <>
      <h3>Named queues</h3>
      {notice && <p className="notice" role="status">{notice}</p>}
      <ErrorBox error={error} />
      {queues && queues.length === 0 && <p className="muted" data-testid="queues-empty">No queue has had a job yet.</p>}
      {queues && queues.length > 0 && (
        <table className="list" data-testid="queue-list">
          <thead><tr><th>queue</th><th>pending</th><th>running</th><th>scheduled</th><th>retrying</th><th>dead letters</th><th>state</th><th /></tr></thead>
          <tbody>
            {queues.map((q) => (
              <tr key={q.name} data-queue={q.name}>
                <td><code>{q.name}</code></td>
                <td data-testid="pending">{q.pending}</td>
                <td data-testid="running">{q.running}</td>
                <td>{q.scheduled}</td>
                <td>{q.retrying}</td>
                <td>{q.dead_letter}</td>
                <td data-testid="state">{q.paused ? 'paused' : 'active'}</td>
                <td className="actions">
                  {q.paused
                    ? <button type="button" onClick={() => act(() => api.resumeQueue(q.name), (r) => `Resumed ${r.queue}.`)}>Resume</button>
                    : <button type="button" onClick={() => act(() => api.pauseQueue(q.name), (r) => `Paused ${r.queue}; its jobs wait until it is resumed.`)}>Pause</button>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  )
}

export default function Queues() {
  const [stats, setStats] = useState(null)
  const [error, setError] = useState(null)
  const [points, setPoints] = useState(rates(history))
  usePoll(async () => {
    try {
      const s = await api.stats()
      setStats(s)
      setError(null)
      addSample(history, s)
      setPoints(rates(history))
    } catch (err) {
      setError(err)
    }
  }, 2000)

  return (
    <section>
      <h2>Queues</h2>
      <QueueList />
      <QueueGroups />
      <h3>All queues together</h3>
      <ErrorBox error={error} />
      {stats && (
        <>
          <div className="cards" data-testid="queue-stats">
            {['high', 'normal', 'low'].map((p) => <Card key={p} label={`pending ${p}`} value={stats.pending?.[p]} />)}
            <Card label="scheduled" value={stats.scheduled} />
            <Card label="running" value={stats.running} />
            <Card label="retrying" value={stats.retrying} />
            <Card label="dead letters" value={stats.dead_letter} />
          </div>
          <ThroughputChart points={points} />
          <h3>Totals</h3>
          <table className="list"><tbody>
            {Object.entries(stats.totals || {}).map(([k, v]) => <tr key={k}><th>{k}</th><td>{v}</td></tr>)}
          </tbody></table>
          {stats.by_type && Object.keys(stats.by_type).length > 0 && (
            <>
              <h3>By job type</h3>
              <table className="list">
                <thead><tr><th>type</th><th>submitted</th><th>completed</th><th>failed</th></tr></thead>
                <tbody>
                  {Object.entries(stats.by_type).map(([k, v]) => (
                    <tr key={k}><td>{k}</td><td>{v.submitted || 0}</td><td>{v.completed || 0}</td><td>{v.failed || 0}</td></tr>
                  ))}
                </tbody>
              </table>
            </>
          )}
        </>
      )}
    </section>
  )
}

function Card({ label, value }) {
  return <div className="card"><div className="card-value">{value ?? 0}</div><div className="card-label">{label}</div></div>
}
