import { useCallback, useState } from 'react'
import { api } from '../api.js'
import { useLive, usePoll } from '../hooks.js'
import { ConfirmButton, DEFAULT_QUEUE, ErrorBox, Json, Pager, QueueSelect, Time, useCursorStack } from './common.jsx'

export default function DeadLetters() {
  const [queue, setQueue] = useState(DEFAULT_QUEUE)
  const [page, setPage] = useState(null)
  const [error, setError] = useState(null)
  const [selected, setSelected] = useState(null)
  const [notice, setNotice] = useState(null)
  const pager = useCursorStack()

  const load = useCallback(async () => {
    try {
      setPage(await api.listDlq({ queue, limit: 20, cursor: pager.cursor }))
      setError(null)
    } catch (err) {
      setError(err)
    }
  }, [queue, pager.cursor])
  usePoll(load, 5000, [load])
  useLive({ topic: 'all' }, (m) => { if (m.type === 'job_update' && m.status === 'failed') load() })

  const act = async (fn, text) => {
    setError(null)
    try {
      const res = await fn()
      setNotice(text(res))
      setSelected(null)
      await load()
    } catch (err) {
      setError(err)
    }
  }
  const inspect = async (id) => {
    try {
      setSelected(await api.getDlq(id))
    } catch (err) {
      setError(err)
    }
  }

  const items = page ? page.items : []
  // requeue all and purge act on the queue shown (the API's ?queue=)
  const bulk = items.length > 0
  return (
    <section>
      <h2>Dead letters</h2>
      <div className="filters">
        <QueueSelect value={queue} onChange={(v) => { setQueue(v); setSelected(null); pager.reset() }} />
      </div>
      <div className="toolbar">
        <button type="button" disabled={!bulk} onClick={() => act(() => api.requeueAllDlq(queue), (r) => `Requeued ${r.requeued} job(s) of queue ${queue}.`)}>Requeue all</button>
        <ConfirmButton name="purge" label="Purge…" question={`Delete every dead letter of queue ${queue} for good?`} yes="Yes, purge"
          disabled={!bulk} onConfirm={() => act(() => api.purgeDlq(queue), (r) => `Purged ${r.purged} dead letter(s) of queue ${queue}.`)} />
      </div>
      {notice && <p className="notice" role="status">{notice}</p>}
      <ErrorBox error={error} />
      {page && items.length === 0 && <p className="muted" data-testid="dlq-empty">The dead-letter queue is empty.</p>}
      {items.length > 0 && (
        <table className="list" data-testid="dlq-list">
          <thead><tr><th>id</th><th>type</th><th>error</th><th>attempts</th><th>finished</th><th /></tr></thead>
          <tbody>
            {items.map((j) => (
              <tr key={j.id} data-job-id={j.id}>
                <td><button type="button" className="link" onClick={() => inspect(j.id)}><code>{j.id}</code></button></td>
                <td>{j.type}</td>
                <td className="error-text">{j.last_error ? `${j.last_error.category}: ${j.last_error.message}` : '—'}</td>
                <td>{j.attempts}/{j.max_attempts}</td>
                <td><Time value={j.finished_at} /></td>
                <td><button type="button" onClick={() => act(() => api.requeueDlq(j.id), () => `Requeued ${j.id}.`)}>Requeue</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager hasPrev={pager.hasPrev} hasNext={Boolean(page && page.next_cursor)} onPrev={pager.prev} onNext={() => pager.next(page.next_cursor)} />
      {selected && (
        <div className="inspect" data-testid="dlq-detail">
          <h3>Dead letter <code>{selected.id}</code> <a href={`#/jobs/${selected.id}`}>job page</a></h3>
          <p className="error-text"><b>{selected.last_error?.category}</b>: {selected.last_error?.message}</p>
          <h4>Data</h4><Json value={selected.data} />
          <button type="button" onClick={() => setSelected(null)}>Close</button>
        </div>
      )}
    </section>
  )
}
