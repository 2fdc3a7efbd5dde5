import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import App from './App.jsx'
import { loadFileConfig } from './config.js'
import { live } from './ws.js'
import './styles.css'

loadFileConfig().finally(() => {
  live.start()
  createRoot(document.getElementById('root')).render(<StrictMode><App /></StrictMode>)
})
