import { apiBase, settings } from './config.js'

export class ApiError extends Error {
  constructor(message, status, details) {
    super(message)
    this.status = status
    this.details = details || []
  }
}

// One call to the REST API; unwraps {"success", "data"} or throws ApiError with the server's text.
export async function request(method, path, body, fetchImpl = globalThis.fetch) {
  const s = settings()
  const headers = { Accept: 'application/json' }
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  if (s.apiKey) headers['x-api-key'] = s.apiKey
  let resp
  try {
    resp = await fetchImpl(apiBase(s) + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    })
  } catch (err) {
    throw new ApiError(`cannot reach the API at ${apiBase(s)} (${err.message})`, 0)
  }
  let payload = null
  try {
    payload = await resp.json()
  } catch {
    throw new ApiError(`HTTP ${resp.status}: the API did not answer with JSON`, resp.status)
  }
  if (!resp.ok || !payload || payload.success === false) {
    const msg = (payload && (payload.error || payload.message)) || `HTTP ${resp.status}`
    throw new ApiError(`${resp.status}: ${msg}`, resp.status, payload && payload.details)
  }
  return payload.data
}

const q = (params) => {
  const sp = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') sp.set(k, v)
  const s = sp.toString()
  return s ? `?${s}` : ''
}
const enc = encodeURIComponent

export const api = {
  submitJob: (job) => request('POST', '/jobs', job),
  listJobs: (p = {}) => request('GET', '/jobs' + q(p)),
  getJob: (id) => request('GET', `/jobs/${enc(id)}`),
  cancelJob: (id) => request('POST', `/jobs/${enc(id)}/cancel`),
  stats: () => request('GET', '/queues/stats'),
  listQueues: () => request('GET', '/queues'),
  getQueue: (name) => request('GET', `/queues/${enc(name)}`),
  pauseQueue: (name) => request('POST', `/queues/${enc(name)}/pause`),
  resumeQueue: (name) => request('POST', `/queues/${enc(name)}/resume`),
  // a group's '/' goes as %2F (encodeURIComponent): API Gateway routes no bare '/' in a segment
  listGroups: (queue, p = {}) => request('GET', `/queues/${enc(queue)}/groups` + q(p)),
  setQueueLimits: (queue, limits) => request('PUT', `/queues/${enc(queue)}/limits`, limits),
  setGroupLimits: (queue, group, limits) => request('PUT', `/queues/${enc(queue)}/groups/${enc(group)}/limits`, limits),
  clearGroupLimits: (queue, group) => request('DELETE', `/queues/${enc(queue)}/groups/${enc(group)}/limits`),
  submitWorkflow: (wf) => request('POST', '/workflows', wf),
  listWorkflows: (p = {}) => request('GET', '/workflows' + q(p)),
  getWorkflow: (id) => request('GET', `/workflows/${enc(id)}`),
  cancelWorkflow: (id) => request('POST', `/workflows/${enc(id)}/cancel`),
  deleteWorkflow: (id) => request('DELETE', `/workflows/${enc(id)}`),
  listDlq: (p = {}) => request('GET', '/dlq' + q(p)),
  getDlq: (id) => request('GET', `/dlq/${enc(id)}`),
  requeueDlq: (id) => request('POST', `/dlq/${enc(id)}/requeue`),
  requeueAllDlq: (queue) => request('POST', '/dlq/requeue' + q({ queue })),
  purgeDlq: (queue) => request('DELETE', '/dlq' + q({ queue })),
  saveSchedule: (s) => request('POST', '/schedules', s),
  listSchedules: (p = {}) => request('GET', '/schedules' + q(p)),
  getSchedule: (name) => request('GET', `/schedules/${enc(name)}`),
  deleteSchedule: (name) => request('DELETE', `/schedules/${enc(name)}`),
  pauseSchedule: (name) => request('POST', `/schedules/${enc(name)}/pause`),
  resumeSchedule: (name) => request('POST', `/schedules/${enc(name)}/resume`),
  triggerSchedule: (name) => request('POST', `/schedules/${enc(name)}/trigger`),
}
