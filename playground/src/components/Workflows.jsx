import { useCallback, useEffect, useRef, useState } from 'react'
import { api } from '../api.js'
import { go, useLive, usePoll, useSocketState } from '../hooks.js'
import { ConfirmButton, ErrorBox, Json, Pager, Status, TERMINAL, Time, useCursorStack } from './common.jsx'
import { parseData } from './Submit.jsx'

const blankStep = (n, deps = []) => ({ id: `step-${n}`, job_type: 'echo', params: '{}', depends_on: deps })

export function WorkflowBuilder() {
  const [name, setName] = useState('my-workflow')
  const [steps, setSteps] = useState([blankStep(1)])
  const [error, setError] = useState(null)
  const [busy, setBusy] = useState(false)

  const update = (i, patch) => setSteps((s) => s.map((st, k) => (k === i ? { ...st, ...patch } : st)))
  const remove = (i) => setSteps((s) => {
    const gone = s[i].id
    return s.filter((_, k) => k !== i).map((st) => ({ ...st, depends_on: st.depends_on.filter((d) => d !== gone) }))
  })
  const add = () => setSteps((s) => {
    let n = s.length + 1
    while (s.some((st) => st.id === `step-${n}`)) n += 1
    return [...s, blankStep(n, s.length ? [s[s.length - 1].id] : [])]
  })
  const toggleDep = (i, dep) => update(i, {
    depends_on: steps[i].depends_on.includes(dep) ? steps[i].depends_on.filter((d) => d !== dep) : [...steps[i].depends_on, dep],
  })

  const onSubmit = async (e) => {
    e.preventDefault()
    setError(null)
    const out = []
    for (const st of steps) {
      if (!st.id.trim() || !st.job_type.trim()) return setError(`Every step needs an id and a job type (${st.id || '?'})`)
      const [params, problem] = parseData(st.params)
      if (problem) return setError(`${st.id}: ${problem}`)
      out.push({ id: st.id.trim(), job_type: st.job_type.trim(), params, depends_on: st.depends_on })
    }
    setBusy(true)
    try {
      const res = await api.submitWorkflow({ name: name.trim() || 'workflow', steps: out })
      go('workflows', res.workflow_id)
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
  }

  return (
    <form onSubmit={onSubmit} className="form" aria-label="build workflow">
      <h3>New workflow</h3>
      <label>Name <input name="wf-name" value={name} onChange={(e) => setName(e.target.value)} /></label>
      {steps.map((st, i) => (
        <fieldset key={i} className="step" data-testid={`builder-step-${i}`}>
          <legend>Step {i + 1}</legend>
          <label>Id <input aria-label={`step ${i + 1} id`} value={st.id} onChange={(e) => update(i, { id: e.target.value })} /></label>
          <label>Job type <input aria-label={`step ${i + 1} job type`} value={st.job_type} list="job-types" onChange={(e) => update(i, { job_type: e.target.value })} /></label>
          <label>Params (JSON) <textarea aria-label={`step ${i + 1} params`} rows={2} value={st.params} onChange={(e) => update(i, { params: e.target.value })} /></label>
          <div className="deps">Depends on:{' '}
            {steps.filter((o, k) => k !== i && o.id).map((o) => (
              <label key={o.id} className="inline">
                <input type="checkbox" aria-label={`step ${i + 1} depends on ${o.id}`} checked={st.depends_on.includes(o.id)} onChange={() => toggleDep(i, o.id)} /> {o.id}
              </label>
            ))}
          </div>
          {steps.length > 1 && <button type="button" onClick={() => remove(i)}>Remove step</button>}
        </fieldset>
      ))}
      <datalist id="job-types"><option value="echo" /><option value="sleep" /><option value="fail" /></datalist>
      <button type="button" onClick={add}>Add step</button>
      <ErrorBox error={error} />
      <button type="submit" disabled={busy}>{busy ? 'Submitting…' : 'Submit workflow'}</button>
    </form>
  )
}

export function WorkflowList() {
  const [page, setPage] = useState(null)
  const [error, setError] = useState(null)
  const pager = useCursorStack()
  const load = useCallback(async () => {
    try {
      setPage(await api.listWorkflows({ limit: 20, cursor: pager.cursor }))
      setError(null)
    } catch (err) {
      setError(err)
    }
  }, [pager.cursor])
  usePoll(load, 3000, [load])
  return (
    <section>
      <h2>Workflows</h2>
      <WorkflowBuilder />
      <h3>Past workflows</h3>
      <ErrorBox error={error} />
      {page && page.items.length === 0 && <p className="muted">No workflows.</p>}
      {page && page.items.length > 0 && (
        <table className="list">
          <thead><tr><th>id</th><th>name</th><th>status</th><th>steps</th><th>created</th></tr></thead>
          <tbody>
            {page.items.map((w) => (
              <tr key={w.id}>
                <td><a href={`#/workflows/${w.id}`}><code>{w.id}</code></a></td>
                <td>{w.name}</td>
                <td><Status value={w.status} /></td>
                <td>{w.completed_steps}/{w.total_steps}</td>
                <td><Time value={w.created_at} /></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager hasPrev={pager.hasPrev} hasNext={Boolean(page && page.next_cursor)} onPrev={pager.prev} onNext={() => pager.next(page.next_cursor)} />
    </section>
  )
}

// Lays steps out in columns by dependency depth: depth = 1 + max depth of parents.
export function layout(steps) {
  const byId = new Map(steps.map((s) => [s.id, s]))
  const depth = new Map()
  const visit = (id, seen = new Set()) => {
    if (depth.has(id)) return depth.get(id)
    if (seen.has(id)) return 0
    seen.add(id)
    const s = byId.get(id)
    const d = s && s.depends_on && s.depends_on.length
      ? 1 + Math.max(...s.depends_on.filter((p) => byId.has(p)).map((p) => visit(p, seen)), -1)
      : 0
    depth.set(id, d)
    return d
  }
  steps.forEach((s) => visit(s.id))
  const columns = []
  steps.forEach((s) => {
    const d = depth.get(s.id)
    ;(columns[d] = columns[d] || []).push(s.id)
  })
  const pos = new Map()
  columns.forEach((col, x) => col.forEach((id, y) => pos.set(id, { x, y })))
  return { pos, columns: columns.length, rows: Math.max(1, ...columns.map((c) => c.length)) }
}

const W = 170
const H = 56
const GX = 60
const GY = 24

export function WorkflowGraph({ steps }) {
  const { pos, columns, rows } = layout(steps)
  const width = columns * (W + GX)
  const height = rows * (H + GY)
  const at = (id) => pos.get(id)
  return (
    <svg className="graph" width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label="workflow graph" data-testid="workflow-graph">
      <defs>
        <marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto">
          <path d="M0,0 L10,5 L0,10 z" fill="#888" />
        </marker>
      </defs>
      {steps.flatMap((s) => (s.depends_on || []).filter((p) => pos.has(p)).map((p) => {
        const a = at(p)
        const b = at(s.id)
        return <line key={`${p}->${s.id}`} x1={a.x * (W + GX) + W} y1={a.y * (H + GY) + H / 2 + GY / 2} x2={b.x * (W + GX)} y2={b.y * (H + GY) + H / 2 + GY / 2} stroke="#888" markerEnd="url(#arrow)" />
      }))}
      {steps.map((s) => {
        const { x, y } = at(s.id)
        return (
          <g key={s.id} transform={`translate(${x * (W + GX)},${y * (H + GY) + GY / 2})`} className={`node node-${s.status}`} data-testid={`step-${s.id}`} data-status={s.status}>
            <rect width={W} height={H} rx="8" />
            <text x="10" y="22" className="node-id">{s.id} · {s.job_type}</text>
            <text x="10" y="42" className="node-status">{s.status}</text>
          </g>
        )
      })}
    </svg>
  )
}

// Reads of a workflow in flight, and the workflows being deleted, across every mounted view
// (a view can remount mid-read): a delete waits for those reads and stops new ones, so none of
// them is answered 404.
const reads = new Map()
const deleting = new Set()

export function WorkflowDetail({ id }) {
  const [wf, setWf] = useState(null)
  const [error, setError] = useState(null)
  const [actionError, setActionError] = useState(null)
  const socket = useSocketState()
  const timer = useRef(null)
  const load = useCallback(async () => {
    if (deleting.has(id)) return
    const read = api.getWorkflow(id)
    const mine = reads.get(id) || new Set()
    reads.set(id, mine.add(read))
    try {
      setWf(await read)
      setError(null)
    } catch (err) {
      setError(err)
    } finally {
      mine.delete(read)
    }
  }, [id])
  useEffect(() => { setWf(null); load() }, [load])
  usePoll(() => socket !== 'open' && wf && !TERMINAL.includes(wf.status) && load(), 2000, [load, socket, wf && wf.status])
  const refresh = () => {
    clearTimeout(timer.current)
    timer.current = setTimeout(load, 100)
  }
  useEffect(() => () => clearTimeout(timer.current), [])
  // workflow pushes tell us something changed; the step jobs' pushes tell us when steps run
  useLive({ workflow_id: id }, (m) => { if (m.workflow_id === id) refresh() })
  useLive({ topic: 'all' }, (m) => { if (m.type === 'job_update' && m.data && m.data.workflow_id === id) refresh() })

  const act = async (fn, then) => {
    setActionError(null)
    try {
      await fn(id)
      then()
    } catch (err) {
      setActionError(err)
    }
  }
  const cancel = () => act(api.cancelWorkflow, load)
  // deleting cancels what still runs, then removes the workflow and its step jobs
  const remove = async () => {
    deleting.add(id)
    await Promise.allSettled([...(reads.get(id) || [])])
    await act(api.deleteWorkflow, () => go('workflows'))
    deleting.delete(id)
  }
  if (error) return <section><h2>Workflow {id}</h2><ErrorBox error={error} /></section>
  if (!wf) return <section><h2>Workflow {id}</h2><p className="muted">Loading…</p></section>
  return (
    <section>
      <h2>Workflow {wf.name} <code>{wf.id}</code></h2>
      <p>Status: <span data-testid="workflow-status"><Status value={wf.status} /></span> — {wf.completed_steps}/{wf.total_steps} steps completed
        {!TERMINAL.includes(wf.status) && <button type="button" className="danger" onClick={cancel}>Cancel workflow</button>}{' '}
        <ConfirmButton name="delete" label="Delete…" question="Delete this workflow and its step jobs?" yes="Yes, delete" onConfirm={remove} />
      </p>
      <ErrorBox error={actionError} />
      <p className="muted">Created <Time value={wf.created_at} />, finished <Time value={wf.finished_at} /></p>
      <WorkflowGraph steps={wf.steps || []} />
      <table className="list">
        <thead><tr><th>step</th><th>type</th><th>status</th><th>depends on</th><th>job</th><th>result / error</th></tr></thead>
        <tbody>
          {(wf.steps || []).map((s) => (
            <tr key={s.id}>
              <td>{s.id}</td><td>{s.job_type}</td><td><Status value={s.status} /></td>
              <td>{(s.depends_on || []).join(', ') || '—'}</td>
              <td>{s.job_id ? <a href={`#/jobs/${s.job_id}`}><code>{s.job_id.slice(0, 8)}</code></a> : '—'}</td>
              <td>{s.error ? <span className="error-text">{typeof s.error === 'string' ? s.error : JSON.stringify(s.error)}</span> : <Json value={s.result} />}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  )
}
