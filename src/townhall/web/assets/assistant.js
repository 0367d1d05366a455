// The chat page without a reload: post the question, show the answer as its lines arrive.
// Without JavaScript the form posts normally and the page redirects back: same records.
const form = document.getElementById('ask-form')
const conversation = document.getElementById('conversation')

function element (tag, className, text) {
  const node = document.createElement(tag)
  if (className) node.className = className
  if (text) node.textContent = text
  return node
}

if (form && conversation && window.fetch && window.TextDecoder) {
  form.addEventListener('submit', async (event) => {
    const question = form.querySelector('#question')
    if (!question.value.trim()) return // let the server show the error message
    event.preventDefault()
    const button = form.querySelector('button[type=submit]')
    button.disabled = true
    const turn = element('div', 'app-turn')
    turn.appendChild(element('h2', 'govuk-heading-s app-turn__question', question.value))
    const answer = element('div', 'app-turn__answer')
    const status = element('p', 'govuk-body', 'Looking through the guidance…')
    answer.appendChild(status)
    turn.appendChild(answer)
    conversation.appendChild(turn)
    try {
      const response = await fetch('/ask/stream', { method: 'POST', body: new FormData(form) })
      if (!response.ok) { form.submit(); return }
      const reader = response.body.getReader()
      const decoder = new TextDecoder()
      let buffer = ''
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        buffer += decoder.decode(value, { stream: true })
        let newline
        while ((newline = buffer.indexOf('\n')) >= 0) {
          const event = JSON.parse(buffer.slice(0, newline))
          buffer = buffer.slice(newline + 1)
          if (event.type === 'start') { status.remove(); turn.id = 'answer-' + event.decision_id }
          if (event.type === 'text') answer.appendChild(element('p', 'govuk-body', event.text))
          if (event.type === 'done') {
            // Reload for the citations, rating buttons and hand-off link, rendered by the server.
            window.location.assign('/ask#answer-' + event.decision_id)
            window.location.reload()
          }
        }
      }
    } catch (error) {
      form.submit()
    }
  })
}

const job = document.querySelector('[data-job-running]')
if (job) {
  const poll = async () => {
    const response = await fetch(window.location.href, { headers: { Accept: 'text/html' } })
    const page = new DOMParser().parseFromString(await response.text(), 'text/html')
    const fresh = page.getElementById('job-status')
    if (fresh) job.innerHTML = fresh.innerHTML
    if (fresh && fresh.hasAttribute('data-job-running')) setTimeout(poll, 2000)
  }
  setTimeout(poll, 2000)
}
