import { useState } from 'react'
import { apiBase, defaults, saveSettings, settings, wsUrl } from '../config.js'
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
  const current = settings()
  const save = (e) => {
    e.preventDefault()
    saveSettings(values)
    setValues(settings())
    setSaved(true)
    live.restart()
  }
  const reset = () => {
    saveSettings({})
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
        <p className="muted">Saved in this browser only (localStorage).</p>
        <button type="submit">Save</button> <button type="button" onClick={reset}>Reset to defaults</button>
        {saved && <span role="status"> Saved.</span>}
      </form>
      <p>Effective API: <code>{apiBase(current)}</code><br />Effective WebSocket: <code>{wsUrl({ ...current, apiKey: '' })}</code></p>
      <h3>Observability</h3>
      <ul>
        <li><a href={current.grafanaUrl} target="_blank" rel="noopener noreferrer">Grafana</a></li>
        <li><a href={current.prometheusUrl} target="_blank" rel="noopener noreferrer">Prometheus</a></li>
        <li><a href={`${apiBase(current)}/docs`} target="_blank" rel="noopener noreferrer">API docs (Swagger UI)</a></li>
      </ul>
    </section>
  )
}
