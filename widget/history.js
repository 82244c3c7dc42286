/*! Frontdesk widget module "history" (issue 15, item 7; PROTOCOL.md, "Several conversations per visitor").
 * widget.js loads it (Frontdesk.load) once one of the visitor's conversations is resolved. It adds:
 * - under a resolved latest conversation, "New conversation" (conversation.start): writing again instead
 *   reopens the resolved one, as the server's rule says;
 * - above the thread, the visitor's earlier conversations, each readable (history) and never writable.
 * Visitor and agent text is only ever set with textContent. */
Frontdesk.define('history', (core) => {
  'use strict';
  const {state, link, el} = core;
  const CSS = '.hs{margin:0 0 12px;font-size:13px}.hs summary{cursor:pointer;color:#4b5563;font-weight:600}' +
    '.hs ul{list-style:none;margin:6px 0 0;padding:0}.hs li{margin-top:6px}' +
    '.hi{display:block;width:100%;padding:8px 12px;border:1px solid #e5e7eb;border-radius:10px;background:#fff;text-align:left}' +
    '.hi span{display:block;color:#4b5563;font-size:12px}' +
    '.ht{margin:4px 0 0;padding:6px 12px;border-left:3px solid #e5e7eb;background:#fff;white-space:pre-wrap;overflow-wrap:anywhere}' +
    '.ht b{font-weight:600}.hro{margin:4px 0 0;font-size:12px;color:#6b7280}' +
    '.hn{display:flex;flex-direction:column;align-items:center;gap:8px;margin:14px 0 6px;font-size:12.5px;color:#4b5563;text-align:center}';
  const earlier = el('details', 'hs'), list = el('ul');
  earlier.append(el('summary', 0, 'Earlier conversations'), list);
  const done = el('div', 'hn'), start = el('button', 'bt', 'New conversation');
  start.type = 'button';
  done.append(el('p', 0, 'This conversation was resolved. Write again to reopen it, or start a new one.'), start);
  let placed = null, drawn = '';

  const when = (time) => {
    try {
      return new Date(time).toLocaleString([], {day: 'numeric', month: 'short', hour: 'numeric', minute: '2-digit'});
    } catch (e) { return ''; }
  };

  function place(root) {
    if (placed == root) return true;
    const ol = root && root.querySelector('ol'), typing = root && root.querySelector('.ty');
    if (!ol || !typing) return false;
    ol.before(earlier);
    typing.before(done);
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      root.adoptedStyleSheets = [...root.adoptedStyleSheets, sheet];
    } catch (e) { root.prepend(el('style', 0, CSS)); }
    placed = root;
    return true;
  }

  // Read-only: the messages of an earlier conversation, fetched when the visitor opens it.
  function read(conversation, item, button) {
    const open = item.querySelector('.ht');
    if (open) {
      item.querySelectorAll('.ht,.hro').forEach((n) => n.remove());
      return button.setAttribute('aria-expanded', 'false');
    }
    button.setAttribute('aria-expanded', 'true');
    link.request('history', {conversation_id: conversation.id, limit: 200}).then((reply) => {
      (reply.messages || []).forEach((m) => {
        const line = el('p', 'ht');
        line.append(el('b', 0, (m.author_kind == 'visitor' ? 'You' : m.author_name || 'Agent') + ': '),
          m.deleted ? 'Message deleted' : m.body);
        item.appendChild(line);
      });
      item.appendChild(el('p', 'hro', 'This conversation is closed: it can be read, not continued.'));
    }, () => button.setAttribute('aria-expanded', 'false'));
  }

  function draw() {
    if (!place(core.root())) return;
    const current = state.conversations[state.conversationId];
    const others = Object.values(state.conversations).filter((c) => c.id != state.conversationId)
      .sort((a, b) => b.id - a.id);
    done.hidden = !current || current.status != 'resolved' || state.connection != 'online';
    earlier.hidden = !others.length;
    const signature = others.map((c) => c.id + ':' + c.last_activity + ':' + c.preview).join('\n');
    if (signature == drawn) return;
    drawn = signature;
    list.textContent = '';
    others.forEach((c) => {
      const item = el('li'), button = el('button', 'hi', 'Conversation of ' + when(c.created_at));
      button.type = 'button';
      button.setAttribute('aria-expanded', 'false');
      button.appendChild(el('span', 0, c.preview || ''));
      button.onclick = () => read(c, item, button);
      item.appendChild(button);
      list.appendChild(item);
    });
  }

  start.onclick = () => {
    start.disabled = true;
    link.request('conversation.start', {}).then((reply) => {
      const c = reply.conversation;
      state.conversations[c.id] = c;
      state.conversationId = c.id;
      // The thread shows the new conversation; the resolved one is in the earlier list now. Unsent messages stay.
      state.messages = state.messages.filter((m) => !m.id);
      Object.assign(state, {hasEarlier: false, agentSeenSeq: 0, ownSeenSeq: 0});
      core.refresh(true);
      draw();
      core.root().querySelector('.c textarea').focus();
    }, () => { /* offline or refused: the button stays */ }).then(() => { start.disabled = false; });
  };

  // Redraw after every hello and pushed event (widget.js has applied it to the state first).
  const owner = link.owner;
  ['onReady', 'onEvent', 'onClose'].forEach((name) => {
    const applied = owner[name];
    owner[name] = (...args) => {
      applied(...args);
      draw();
    };
  });
  draw();
  return {draw};
});
