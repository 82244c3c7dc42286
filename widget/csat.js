// Frontdesk widget module "csat": the end-of-chat card (PROTOCOL.md, "Satisfaction surveys").
// Loaded by widget.js on the first csat.* event. The card asks for a rating (1-5 stars or thumbs, the
// survey's scale) and an optional comment, sends csat.submit, and lets the visitor change the rating
// while the survey is open. It also offers the transcript as a text file (transcript(), text()) and by
// email (transcript.email, to the address the visitor gave).
// Every text is set with textContent.
Frontdesk.define('csat', (core) => {
  const {state, link, el} = core;
  const CSS =
    '.csat{margin:10px 2px;padding:12px;border:1px solid #d8dce3;border-radius:12px;background:#fff;font-size:14px}' +
    '.csat h3{margin:0 0 8px;font-size:14px}.csat .cr{display:flex;gap:2px;margin-bottom:8px}' +
    '.csat .cr button{font-size:24px;line-height:1;padding:2px 4px;border:0;border-radius:6px;background:none;color:#c3c8d1;cursor:pointer;text-decoration:none}' +
    '.csat .cr button.on{color:#f59e0b}.csat .cr.th button{font-size:22px;padding:4px 10px;border:1px solid #d8dce3;background:#f6f7f9;color:inherit}' +
    '.csat .cr.th button[aria-pressed="true"]{background:#dbeafe;border-color:#2563eb}.csat .cr button:focus-visible{outline:2px solid #2563eb}' +
    '.csat textarea{width:100%;box-sizing:border-box;min-height:48px;font:inherit;margin-bottom:8px;padding:6px 8px;border:1px solid #d8dce3;border-radius:8px;resize:vertical}' +
    '.csat .ok{color:#166534;margin:6px 0}.csat .er{color:#b91c1c;margin:6px 0}' +
    '.csat .row{display:flex;gap:8px;flex-wrap:wrap}.csat .row button{padding:6px 10px;border-radius:8px;border:1px solid #d8dce3;background:#fff;cursor:pointer}';
  let card = null, survey = null, chosen = null;

  function style(root) {
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      root.adoptedStyleSheets = [...root.adoptedStyleSheets, sheet];
    } catch (e) { root.appendChild(el('style', 0, CSS)); }
  }

  /** The thread as plain text, oldest first. */
  function text() {
    const name = (state.config && state.config.business_name) || 'Support';
    const lines = ['Conversation with ' + name, ''];
    state.messages.filter((m) => m.id && !m.deleted).slice()
      .sort((a, b) => a.conversation_id - b.conversation_id || a.seq - b.seq)
      .forEach((m) => {
        const who = m.author_kind == 'visitor' ? 'You' : m.author_name || name;
        lines.push('[' + new Date(m.created_at).toISOString().replace('T', ' ').slice(0, 16) + ' UTC] ' + who + ':');
        lines.push(m.body, '');
      });
    return lines.join('\n');
  }

  /** Download the transcript as a .txt file. */
  function transcript() {
    const a = el('a');
    a.href = URL.createObjectURL(new Blob([text()], {type: 'text/plain;charset=utf-8'}));
    a.download = 'transcript-' + new Date().toISOString().slice(0, 10) + '.txt';
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }

  function draw() {
    const root = core.root();
    if (!root || !survey) return;
    const box = root.querySelector('.m');
    if (!card) {
      style(root);
      card = el('section', 'csat');
      card.setAttribute('aria-label', 'Rate this conversation');
    }
    // Above the resolved note and its "New conversation" (the history module's .hn): rate this one first.
    box.insertBefore(card, root.querySelector('.hn') || root.querySelector('.ty'));
    card.textContent = '';
    const open = survey.expires_at > Date.now(), actions = el('div', 'row');
    card.appendChild(el('h3', 0, survey.rating == null ? 'How did we do?' : 'Thanks for your rating'));
    if (open) {
      const thumbs = survey.scale == 'thumbs', row = el('div', thumbs ? 'cr th' : 'cr');
      row.setAttribute('role', 'group');
      row.setAttribute('aria-label', 'Your rating');
      const choices = thumbs ? [[1, '\u{1F44D}', 'Good'], [0, '\u{1F44E}', 'Bad']] :
        [1, 2, 3, 4, 5].map((n) => [n, '\u2605', n + ' of 5']);
      const current = chosen != null ? chosen : survey.rating;
      choices.forEach(([value, label, name]) => {
        const b = el('button', 0, label);
        b.type = 'button';
        b.setAttribute('aria-label', name);
        b.setAttribute('aria-pressed', String(current === value));
        if (!thumbs && current != null && value <= current) b.className = 'on'; // the stars up to the rating
        b.onclick = () => { chosen = value; draw(); };
        row.appendChild(b);
      });
      card.appendChild(row);
      const comment = el('textarea');
      comment.maxLength = 1000;
      comment.setAttribute('aria-label', 'Comment (optional)');
      comment.placeholder = 'Anything to add? (optional)';
      comment.value = survey.comment || '';
      card.appendChild(comment);
      const send = el('button', 'send', survey.rating == null ? 'Send rating' : 'Change rating');
      send.type = 'button';
      send.disabled = current == null;
      send.onclick = () => submit(current, comment.value);
      actions.appendChild(send);
    }
    const download = el('button', 'tx', 'Download transcript');
    download.type = 'button';
    download.onclick = transcript;
    actions.appendChild(download);
    const mail = el('button', 'tm', 'Email me the transcript');
    mail.type = 'button';
    mail.onclick = () => link.request('transcript.email', {conversation_id: survey.conversation_id}).then(
      () => note('ok', 'On its way to your inbox.'),
      (error) => note('er', (error && error.message) || 'Could not send it. Try again later.'));
    actions.appendChild(mail);
    card.appendChild(actions);
    box.scrollTop = box.scrollHeight;
  }

  function note(kind, text) {
    const old = card.querySelector('.ok, .er');
    if (old) old.remove();
    card.appendChild(el('p', kind, text));
  }

  function submit(rating, comment) {
    const fields = {conversation_id: survey.conversation_id, rating};
    if (comment.trim()) fields.comment = comment.trim().slice(0, 1000);
    link.request('csat.submit', fields).then((reply) => {
      survey = reply.csat;
      chosen = null;
      draw();
      card.appendChild(el('p', 'ok', 'Thank you! You can change your rating for a day.'));
    }, (error) => {
      draw();
      card.appendChild(el('p', 'er', (error && error.message) || 'Could not send your rating. Try again.'));
    });
  }

  /** A csat.requested or csat.submitted event's survey. */
  function show(data) {
    if (survey && data.id < survey.id) return;
    survey = data;
    draw();
  }

  return {show, text, transcript};
});
