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
    const heading = element('h2', 'govuk-heading-s app-turn__question')
    heading.appendChild(element('span', 'govuk-visually-hidden', 'You asked: '))
    heading.appendChild(document.createTextNode(question.value))
    turn.appendChild(heading)
    const answer = element('div', 'app-turn__answer')
    const status = element('p', 'govuk-body', 'Looking through the guidance…')
    answer.appendChild(status)
    turn.appendChild(answer)
    conversation.appendChild(turn)
    // Once the server has said 'start' the answer is recorded: on any later failure show the
    // page (which has it) rather than posting the form, which would ask the question again.
    let recorded = null
    const showRecorded = () => {
      window.location.assign('/ask#answer-' + recorded)
      // Only the fragment changed, so the assignment alone would not load the page.
      window.location.reload()
    }
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
          const line = buffer.slice(0, newline)
          buffer = buffer.slice(newline + 1)
          if (!line.trim()) continue
          const message = JSON.parse(line)
          if (message.type === 'start') {
            recorded = message.decision_id
            status.remove()
            turn.id = 'answer-' + message.decision_id
          }
          if (message.type === 'text') answer.appendChild(element('p', 'govuk-body', message.text))
          // Reload for the citations, rating buttons and hand-off link, rendered by the server.
          if (message.type === 'done') { showRecorded(); return }
        }
      }
      if (recorded) showRecorded(); else form.submit()
    } catch (error) {
      if (recorded) showRecorded(); else form.submit()
    }
  })
}

const job = document.querySelector('[data-job-running]')
if (job) {
  const poll = async () => {
    let fresh = null
    try {
      const response = await fetch(window.location.href, { headers: { Accept: 'text/html' } })
      const page = new DOMParser().parseFromString(await response.text(), 'text/html')
      fresh = page.getElementById('job-status')
    } catch (error) {
      // A dropped connection is not the end of the job: keep asking.
      setTimeout(poll, 5000)
      return
    }
    if (fresh) job.innerHTML = fresh.innerHTML
    if (fresh && fresh.hasAttribute('data-job-running')) setTimeout(poll, 2000)
  }
  setTimeout(poll, 2000)
}
