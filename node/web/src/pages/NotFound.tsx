import { Link } from 'react-router'

export default function NotFound() {
  return (
    <section>
      <h1>Not found</h1>
      <p>Nothing lives at this address.</p>
      <p>
        <Link to="/">Go to your conversations</Link>
      </p>
    </section>
  )
}
