// A link target from settings or config.json: only http(s) URLs become links (no javascript:,
// data: or other schemes); anything else is shown as text.
export function httpUrl(value) {
  if (typeof value !== 'string' || value.trim() === '') return null
  try {
    const url = new URL(value.trim(), window.location.href)
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null
  } catch {
    return null
  }
}
