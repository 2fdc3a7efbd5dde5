import { useRoute } from './hooks.js'
import { ConnectionIndicator } from './components/common.jsx'
import Submit from './components/Submit.jsx'
import { JobDetail, JobList } from './components/Jobs.jsx'
import { WorkflowDetail, WorkflowList } from './components/Workflows.jsx'
import Queues from './components/Queues.jsx'
import DeadLetters from './components/DeadLetters.jsx'
import Schedules from './components/Schedules.jsx'
import Settings from './components/Settings.jsx'

const NAV = [
  ['submit', 'Submit'],
  ['jobs', 'Jobs'],
  ['workflows', 'Workflows'],
  ['queues', 'Queues'],
  ['dlq', 'Dead letters'],
  ['schedules', 'Schedules'],
  ['settings', 'Settings'],
]

function Page({ route }) {
  const [name, id] = route
  switch (name) {
    case 'submit': return <Submit />
    case 'jobs': return id ? <JobDetail key={id} id={id} /> : <JobList />
    case 'workflows': return id ? <WorkflowDetail key={id} id={id} /> : <WorkflowList />
    case 'queues': return <Queues />
    case 'dlq': return <DeadLetters />
    case 'schedules': return <Schedules />
    case 'settings': return <Settings />
    default: return <p>Unknown page. <a href="#/submit">Go to Submit</a></p>
  }
}

export default function App() {
  const route = useRoute()
  return (
    <div className="app">
      <header>
        <h1>BoltQ playground</h1>
        <nav>
          {NAV.map(([key, label]) => (
            <a key={key} href={`#/${key}`} className={route[0] === key ? 'active' : ''} aria-current={route[0] === key ? 'page' : undefined}>{label}</a>
          ))}
        </nav>
        <ConnectionIndicator />
      </header>
      <main><Page route={route} /></main>
    </div>
  )
}
