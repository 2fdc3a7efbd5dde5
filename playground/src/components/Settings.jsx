import { useState } from 'react'
import { apiBase, defaults, keyRemembered, saveSettings, settings, wsUrl } from '../config.js'
import { httpUrl } from '../links.js'
import { live } from '../ws.js'

const FIELDS = [
  ['apiUrl', 'API URL', 'empty: this page\'s origin (e.g. https://abc.execute-api.eu-west-1.amazonaws.com/prod)'],
  ['wsUrl', 'WebSocket URL', 'empty: ws(s)://this host/ws'],
  ['apiKey', 'API key (x-api-key)', 'empty: none'],
  ['grafanaUrl', 'Grafana URL', ''],
  ['prometheusUrl', 'Prometheus URL', ''],
]

export default function Settings() {
  const [values, setValues] = useState(settings)
  const [saved, setSaved] = useState(false)
  const [remember, setRemember] = useState(keyRemembered)
  const current = settings()
  const save = (e) => {
    e.preventDefault()
    saveSettings(values, { remember })
    setValues(settings())
    setSaved(true)
    live.restart()
  }
  const reset = () => {
    saveSettings({})
    setRemember(false)
    setValues(settings())
    live.restart()
  }
  return (
    <section>
      <h2>Settings</h2>
      <form className="form" onSubmit={save} aria-label="settings">
        {FIELDS.map(([k, label, hint]) => (
          <label key={k}>{label}
            <input name={k} type={k === 'apiKey' ? 'password' : 'text'} value={values[k] || ''} placeholder={hint || defaults()[k]}
              onChange={(e) => { setSaved(false); setValues({ ...values, [k]: e.target.value }) }} autoComplete="off" />
          </label>
        ))}
        <label className="check"><input type="checkbox" name="remember" checked={remember}
          onChange={(e) => { setSaved(false); setRemember(e.target.checked) }} /> Remember the key in this browser</label>
        <p className="muted">Saved in this browser only (localStorage); the API key only for this tab's session (sessionStorage) unless you tick Remember.</p>
        <button type="submit">Save</button> <button type="button" onClick={reset}>Reset to defaults</button>
        {saved && <span role="status"> Saved.</span>}
      </form>
      <p>Effective API: <code>{apiBase(current)}</code><br />Effective WebSocket: <code>{wsUrl({ ...current, apiKey: '' })}</code></p>
      <h3>Observability</h3>
      <ul>
        <li><Link url={current.grafanaUrl}>Grafana</Link></li>
        <li><Link url={current.prometheusUrl}>Prometheus</Link></li>
        <li><Link url={`${apiBase(current)}/docs`}>API docs (Swagger UI)</Link></li>
      </ul>
    </section>
  )
}

// A settings link: an http(s) URL opens in a new tab; anything else is shown as text, unlinked.
function Link({ url, children }) {
  const href = httpUrl(url)
  if (!href) return <span data-testid="bad-link">{children}: <code>{String(url)}</code> (not an http(s) URL)</span>
  return <a href={href} target="_blank" rel="noopener noreferrer">{children}</a>
}
