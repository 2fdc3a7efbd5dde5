import { useEffect, useState } from 'react'
import { api } from '../api.js'
import { useSocketState } from '../hooks.js'
import { live } from '../ws.js'

export const TERMINAL = ['completed', 'failed', 'cancelled', 'skipped']
export const CANCELLABLE = ['pending', 'scheduled', 'retrying', 'running']
export const PRIORITY_NAMES = { 0: 'high', 1: 'normal', 2: 'low' }
// a queue name as the API takes it (keys.py QUEUE_PATTERN)
export const QUEUE_RE = /^[A-Za-z0-9_.-]{1,64}$/
export const DEFAULT_QUEUE = 'default'
// a group name as the API takes it (models.py GROUP_PATTERN)
export const GROUP_RE = /^[A-Za-z0-9_.:@/-]{1,128}$/

// The known queues' names for a selector; `default` is always there (a fresh store knows none),
// and a failed read just leaves the list as it was: the selector is a convenience.
export function useQueueNames() {
  const [names, setNames] = useState([DEFAULT_QUEUE])
  useEffect(() => {
    let alive = true
    api.listQueues().then((r) => {
      if (alive) setNames([...new Set([DEFAULT_QUEUE, ...r.queues.map((q) => q.name)])])
    }).catch(() => {})
    return () => { alive = false }
  }, [])
  return names
}

export function QueueSelect({ value, onChange }) {
  const names = useQueueNames()
  const options = names.includes(value) ? names : [...names, value]
  return (
    <label>Queue
      <select aria-label="queue filter" value={value} onChange={(e) => onChange(e.target.value)}>
        {options.map((n) => <option key={n} value={n}>{n}</option>)}
      </select>
    </label>
  )
}

export function Status({ value }) {
  return <span className={`status status-${value || 'unknown'}`} data-status={value}>{value || '?'}</span>
}

// Always text: React escapes it; job data is user input.
export function Json({ value, testid }) {
  if (value === undefined || value === null) return <span className="muted">—</span>
  return <pre className="json" data-testid={testid}>{JSON.stringify(value, null, 2)}</pre>
}

export function ErrorBox({ error }) {
  if (!error) return null
  const details = error.details || []
  return (
    <div className="error" role="alert">
      {String(error.message || error)}
      {details.length > 0 && (
        <ul>
          {details.map((d, i) => <li key={i}>{d.field ? `${d.field}: ` : ''}{d.message || JSON.stringify(d)}</li>)}
        </ul>
      )}
    </div>
  )
}

export function Time({ value }) {
  if (!value) return <span className="muted">—</span>
  const d = new Date(value)
  return <time dateTime={value} title={value}>{Number.isNaN(d.getTime()) ? value : d.toLocaleString()}</time>
}

export function Pager({ hasPrev, hasNext, onPrev, onNext }) {
  return (
    <div className="pager">
      <button type="button" disabled={!hasPrev} onClick={onPrev}>← Newer</button>
      <button type="button" disabled={!hasNext} onClick={onNext}>Older →</button>
    </div>
  )
}

// Says "live" only while the socket is really open.
// A destructive action behind an inline "are you sure?" (no window.confirm: it blocks tests
// and looks foreign); `label` opens it, `yes` runs `onConfirm`.
export function ConfirmButton({ label, question, yes, onConfirm, disabled, name }) {
  const [open, setOpen] = useState(false)
  if (!open) return <button type="button" className="danger" disabled={disabled} onClick={() => setOpen(true)}>{label}</button>
  return (
    <span className="confirm" role="alertdialog" aria-label={`confirm ${name}`}>
      {question}{' '}
      <button type="button" className="danger" onClick={() => { setOpen(false); onConfirm() }}>{yes}</button>{' '}
      <button type="button" onClick={() => setOpen(false)}>No</button>
    </span>
  )
}

export function ConnectionIndicator({ socket = live }) {
  const state = useSocketState(socket)
  const [, tick] = useState(0)
  useEffect(() => {
    if (state !== 'closed') return undefined
    const id = setInterval(() => tick((n) => n + 1), 500)
    return () => clearInterval(id)
  }, [state])
  let text = { open: 'Live', connecting: 'Connecting…', idle: 'Offline' }[state]
  if (state === 'closed') {
    const secs = socket.retryAt ? Math.max(0, Math.ceil((socket.retryAt - Date.now()) / 1000)) : 0
    text = `Disconnected — retrying in ${secs}s`
  }
  return (
    <span className={`conn conn-${state}`} data-testid="connection" data-state={state} role="status">
      <span className="dot" aria-hidden="true" /> {text}
    </span>
  )
}

// Keeps a paging stack of cursors: page 0 has cursor undefined.
export function useCursorStack() {
  const [stack, setStack] = useState([undefined])
  return {
    cursor: stack[stack.length - 1],
    hasPrev: stack.length > 1,
    next: (c) => setStack((s) => [...s, c]),
    prev: () => setStack((s) => (s.length > 1 ? s.slice(0, -1) : s)),
    reset: () => setStack([undefined]),
  }
}
