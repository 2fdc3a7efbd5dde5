import { useEffect, useRef, useState } from 'react'
import { live } from './ws.js'

export function useSocketState(socket = live) {
  const [state, setState] = useState(socket.state)
  useEffect(() => {
    const off = socket.onState((s) => setState(s))
    setState(socket.state) // it may have changed between render and subscribe
    return off
  }, [socket])
  return state
}

// Subscribe to a target (e.g. {job_id}) while mounted; handler gets every message.
export function useLive(target, handler, socket = live) {
  const ref = useRef(handler)
  ref.current = handler
  const key = target ? JSON.stringify(target) : null
  useEffect(() => {
    if (!key) return undefined
    const off = socket.onMessage((m) => ref.current(m))
    const unsub = socket.subscribe(JSON.parse(key))
    return () => {
      off()
      unsub()
    }
  }, [key, socket])
}

// Run fn now and every `ms` while mounted (and when deps change).
export function usePoll(fn, ms, deps = []) {
  const ref = useRef(fn)
  ref.current = fn
  useEffect(() => {
    let alive = true
    const tick = () => alive && ref.current()
    tick()
    const id = setInterval(tick, ms)
    return () => {
      alive = false
      clearInterval(id)
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [ms, ...deps])
}

// A tiny hash router: '#/jobs/abc' -> ['jobs', 'abc']
export function useRoute() {
  const parse = () => (window.location.hash.replace(/^#\/?/, '') || 'submit').split('/').map(decodeURIComponent)
  const [route, setRoute] = useState(parse)
  useEffect(() => {
    const on = () => setRoute(parse())
    window.addEventListener('hashchange', on)
    return () => window.removeEventListener('hashchange', on)
  }, [])
  return route
}

export const go = (...parts) => {
  window.location.hash = '#/' + parts.map(encodeURIComponent).join('/')
}
