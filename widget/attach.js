/*! Frontdesk widget module: attachments (docs/PROTOCOL.md, "Attachments").
 * widget.js loads it when the paperclip is first used, a file is dropped or pasted, or a message with
 * attachments must render. A file becomes a message of its own: it uploads in binary frames on the
 * widget's socket (file.begin; frames of [handle u32][offset u64][bytes]; file.progress for flow control;
 * file.finish), then goes through the widget's outbox as message.send with attachment_ids. The file is
 * kept in memory while the page is open: an upload cut by a lost connection resumes on the next socket
 * from the offset the server has. Names and sizes are only ever set with textContent. */
Frontdesk.define('attach', (core) => {
  const {state, link, el} = core;
  const jobs = new Map(); // client_id -> the upload of the visitor's file (kept while the page is open)
  const links = new Map(); // attachment id -> {url, thumbnail_url, expires_at}, from file.links
  const shown = new Map(); // attachment id -> an object URL of the visitor's own image (no download needed)
  const IMAGE = /^image\/(png|jpeg|gif|webp)$/;
  const CSS = '.at{display:flex;flex-direction:column;gap:4px;max-width:84%;margin-top:3px}.me .at{align-items:flex-end}' +
    '.ati{display:block;padding:0;border:1px solid #e5e7eb;border-radius:14px;overflow:hidden;background:#fff;line-height:0}' +
    '.ati img{display:block;max-width:220px;max-height:220px;min-width:48px;min-height:48px;object-fit:cover}' +
    '.atf{display:flex;flex-direction:column;min-width:160px;padding:9px 13px;border:1px solid #e5e7eb;border-radius:14px;background:#fff;color:#111827;text-decoration:none}' +
    '.atf b{font-weight:600;overflow-wrap:anywhere}.atf span{font-size:12px;color:#4b5563}' +
    '.atp{width:90px;height:6px;accent-color:var(--c)}.up .mt,.upfail .mt{flex-wrap:wrap}.upfail .mt{color:#b91c1c}' +
    '.atv{position:absolute;inset:0;z-index:2;display:flex;flex-direction:column;gap:10px;padding:14px;background:rgba(15,23,42,.92);color:#fff}' +
    '.atv img{flex:1;min-height:0;width:100%;object-fit:contain}.atv div{display:flex;justify-content:space-between;gap:8px}' +
    '.atv a,.atv button{padding:7px 14px;border:0;border-radius:10px;background:#fff;color:#111827;font-weight:600;text-decoration:none}' +
    '.up .bu:empty,.upfail .bu:empty,.att .bu:empty{display:none}';

  const root = core.root();
  try {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    root.adoptedStyleSheets = [...root.adoptedStyleSheets, sheet];
  } catch (e) { root.appendChild(el('style', 0, CSS)); }

  // MB of 1,000,000 bytes, as the server counts max_upload_mb.
  const limit = () => (state.config.max_upload_mb || 0) * 1e6;
  const size = (n) => n < 1e3 ? n + ' B' : n < 1e6 ? Math.round(n / 1e3) + ' KB' :
    (n / 1e6).toFixed(1).replace(/\.0$/, '') + ' MB';
  const quoted = (job) => '\u201c' + job.file.name + '\u201d';
  const REFUSED = {
    too_large: (job) => quoted(job) + ' is too large to send' +
      (job.file.size > limit() ? '. The limit is ' + size(limit()) : ' (an image of too many pixels)') + '.',
    empty: (job) => quoted(job) + ' is empty.',
    unsupported_type: (job) => 'Files like ' + quoted(job) + ' can\u2019t be sent here.',
    refused: (job) => quoted(job) + ' was refused by the virus check.',
    rate_limited: () => 'Too many files at once. Try again in a moment.',
  };
  //: Uploads at once (the server takes 4 per socket); the others wait their turn.
  const AT_ONCE = 3;
  const find = (clientId) => state.messages.find((m) => m.client_id == clientId);

  function changed() {
    core.persist();
    core.refresh(true);
  }

  // ---- adding files: each becomes a message of its own
  function add(files) {
    [...files].forEach((file) => {
      const message = {client_id: crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2) +
        Date.now(), body: '', created_at: Date.now(), conversation_id: state.conversationId, author_kind: 'visitor',
      status: 'up', attachments: [{name: file.name || 'file', size: file.size, mime: file.type}]};
      const job = {file, message, key: null, sent: 0, acked: 0};
      state.messages.push(message);
      jobs.set(message.client_id, job);
      if (IMAGE.test(file.type)) job.preview = URL.createObjectURL(file);
      if (!file.size) fail(job, {code: 'empty'});
      else if (file.size > limit()) fail(job, {code: 'too_large'});
    });
    changed();
    kick();
  }

  // Start what waits, up to AT_ONCE at a time.
  function kick() {
    jobs.forEach((job) => { if (job.message.status == 'up' && !job.scanning) start(job); });
  }

  function pick() {
    const input = el('input');
    input.type = 'file';
    input.multiple = true;
    input.onchange = () => add(input.files);
    input.click();
  }

  // ---- the upload: begin (or resume), frames within the window, finish
  function start(job) {
    if (job.running || state.connection != 'online' || [...jobs.values()].filter((j) => j.running).length >= AT_ONCE) {
      return showProgress(job);
    }
    const socket = link.socket, file = job.file;
    job.running = true;
    job.message.status = 'up';
    showProgress(job);
    link.request('file.begin', {name: (file.name || 'file').slice(0, 255), size: file.size,
      resume: job.key || undefined}).then((reply) => {
      if (!job.running) return;
      Object.assign(job, {key: reply.upload, handle: reply.handle, sent: reply.offset, acked: reply.offset,
        chunk: reply.chunk || 65536, window: reply.window || 1048576, socket});
      showProgress(job);
      pump(job);
    }, (error) => stopped(job, error));
  }

  async function pump(job) {
    if (job.pumping) return;
    job.pumping = true;
    const total = job.file.size;
    try {
      while (job.running && job.socket == link.socket && job.sent < total && job.sent - job.acked < job.window) {
        const from = job.sent, to = Math.min(total, from + job.chunk);
        const data = new Uint8Array(await job.file.slice(from, to).arrayBuffer());
        if (!job.running || job.socket != link.socket || job.sent != from) break;
        const frame = new Uint8Array(12 + data.length), view = new DataView(frame.buffer);
        view.setUint32(0, job.handle);
        view.setBigUint64(4, BigInt(from));
        frame.set(data, 12);
        link.socket.send(frame);
        job.sent = to;
      }
    } catch (e) { // the file can no longer be read (deleted, or permission gone)
      return fail(job, {code: 'unreadable'});
    } finally { job.pumping = false; }
    if (job.running && job.socket == link.socket && job.sent == total && !job.finishing) finish(job);
  }

  function finish(job) {
    job.finishing = true;
    // The reply comes once the bytes are stored (and an image re-encoded): allow it time.
    link.request('file.finish', {upload: job.key}, 120000).then((attachment) => {
      job.finishing = false;
      if (!job.running) return;
      job.running = false;
      if (job.preview) shown.set(attachment.id, job.preview);
      ready(job, attachment);
      kick();
    }, (error) => {
      job.finishing = false;
      stopped(job, error);
    });
  }

  // Stored: the message goes through the outbox. A file being scanned waits for its file.ready.
  function ready(job, attachment) {
    job.scanning = attachment.status == 'pending';
    job.attachment = attachment;
    if (attachment.status == 'refused') return fail(job, {code: 'refused'});
    if (job.scanning) return showProgress(job);
    jobs.delete(job.message.client_id);
    Object.assign(job.message, {status: 'pending', attachments: [attachment], attachment_ids: [attachment.id]});
    changed();
    core.flushOutbox();
  }

  // A request that failed: offline waits for the next socket; anything else is a refusal.
  function stopped(job, error) {
    job.running = false;
    if (error.code == 'offline') return showProgress(job);
    if (error.code == 'not_found') job.key = null; // the partial upload is gone: start over on Retry
    fail(job, error);
  }

  function fail(job, error) {
    job.running = false;
    if (job.key && error.code != 'offline') link.request('file.cancel', {upload: job.key}).catch(() => {});
    job.key = null;
    job.message.status = 'upfail';
    job.message.upload_error = (REFUSED[error.code] || (() => 'The file could not be sent.'))(job);
    job.retry = !REFUSED[error.code] || error.code == 'rate_limited';
    changed();
    kick();
  }

  function cancel(job) {
    job.running = false;
    if (job.key) link.request('file.cancel', {upload: job.key}).catch(() => {});
    remove(job.message);
    kick();
  }

  function remove(message) {
    jobs.delete(message.client_id);
    state.messages.splice(state.messages.indexOf(message), 1);
    changed();
  }

  function showProgress(job) {
    if (job.bar) job.bar.value = job.acked;
    if (job.label) {
      job.label.textContent = job.scanning ? 'Checking the file\u2026' : job.running ? 'Uploading\u2026' :
        state.connection == 'online' ? 'Waiting\u2026' : 'Waiting for connection\u2026';
    }
  }

  // The server's file.progress events and upload errors (not answers to a request) come on the socket.
  const receive = link.receive;
  link.receive = function (text) {
    let frame = {};
    try { frame = JSON.parse(text); } catch (e) { /* not ours */ }
    const data = frame.data || {};
    if (frame.type == 'event' && frame.kind == 'file.progress') {
      jobs.forEach((job) => {
        if (job.key != data.upload || !job.running) return;
        job.acked = Math.max(job.acked, data.received);
        showProgress(job);
        pump(job);
      });
      return;
    }
    if (frame.type == 'event' && frame.kind == 'file.ready') {
      return jobs.forEach((job) => { if (job.scanning && job.attachment.id == data.id) ready(job, data); });
    }
    if (frame.type == 'error' && !frame.ref && /^(upload_failed|unsupported_type|too_large)$/.test(frame.code)) {
      return jobs.forEach((job) => {
        if (job.running && (!frame.upload || frame.upload == job.key)) stopped(job, frame);
      });
    }
    receive.call(this, text);
  };
  // Offline: uploads pause. Back online: every upload that was cut goes on, from the offset the server has.
  const onClose = link.owner.onClose;
  link.owner.onClose = (...args) => {
    onClose(...args);
    jobs.forEach((job) => {
      job.running = job.finishing = false;
      showProgress(job);
    });
  };
  const onReady = link.owner.onReady;
  link.owner.onReady = (...args) => {
    onReady(...args);
    kick();
  };

  // ---- signed links, fetched when needed and again once expired
  const asking = new Map(); // attachment id -> its link, while file.links is on the way
  let batch = null; // the ids asked for in this turn of the event loop: one request for all
  // Links are paths on the chat server, which is not the page's origin when the widget is embedded elsewhere.
  const onServer = (path) => new URL(path, link.url.replace(/^ws/, 'http')).href;
  const expires = (known) => known.expires_at * (known.expires_at < 1e12 ? 1000 : 1);
  function fresh(id) {
    const known = links.get(id);
    if (known && expires(known) - Date.now() > 15000) return Promise.resolve(known);
    if (!asking.has(id)) {
      if (!batch) {
        const ids = batch = new Set;
        ids.promise = Promise.resolve().then(() => {
          batch = null;
          return link.request('file.links', {ids: [...ids]});
        }).then((reply) => {
          Object.entries(reply.links || {}).forEach(([key, value]) => links.set(key, {...value, url: onServer(value.url),
            thumbnail_url: value.thumbnail_url && onServer(value.thumbnail_url)}));
        });
      }
      batch.add(id);
      const promise = batch.promise.then(() => links.get(id) || Promise.reject(Error('no link')));
      asking.set(id, promise);
      promise.finally(() => asking.delete(id)).catch(() => {});
    }
    return asking.get(id);
  }

  function viewer(attachment) {
    const panel = root.querySelector('.p'), box = el('div', 'atv'), img = el('img'), bar = el('div');
    const close = el('button', 0, 'Close'), save = el('a', 0, 'Download'), back = root.activeElement;
    box.setAttribute('role', 'dialog');
    box.setAttribute('aria-label', attachment.name);
    img.alt = attachment.name;
    close.type = 'button';
    save.rel = 'noopener';
    save.target = '_blank';
    const shut = () => {
      box.remove();
      if (back) back.focus();
    };
    close.onclick = shut;
    box.addEventListener('keydown', (e) => {
      if (e.key != 'Escape') return;
      e.stopPropagation(); // the panel stays open
      shut();
    });
    fresh(attachment.id).then((known) => {
      img.src = save.href = known.url;
    }, () => { img.alt = 'The image could not be loaded.'; });
    bar.append(save, close);
    box.append(img, bar);
    panel.appendChild(box);
    close.focus();
  }

  function thumbnail(attachment) {
    const button = el('button', 'ati'), img = el('img');
    button.type = 'button';
    button.setAttribute('aria-label', 'Open image ' + attachment.name);
    img.alt = attachment.name;
    if (attachment.width && attachment.height) {
      const scale = Math.min(1, 220 / attachment.width, 220 / attachment.height);
      img.width = Math.round(attachment.width * scale);
      img.height = Math.round(attachment.height * scale);
    }
    let tries = 0;
    const load = () => {
      if (shown.has(attachment.id)) img.src = shown.get(attachment.id);
      else fresh(attachment.id).then((known) => { img.src = known.thumbnail_url || known.url; }, () => {});
    };
    img.onerror = () => { // an expired link: once more with a fresh one
      if (tries++ || shown.has(attachment.id)) return;
      links.delete(attachment.id);
      load();
    };
    load();
    button.onclick = () => viewer(attachment);
    button.appendChild(img);
    return button;
  }

  function fileCard(attachment) {
    const card = el('a', 'atf');
    card.append(el('b', 0, attachment.name), el('span', 0, size(attachment.size)));
    card.setAttribute('aria-label', 'Download ' + attachment.name + ', ' + size(attachment.size));
    card.rel = 'noopener';
    card.target = '_blank';
    card.href = '#';
    fresh(attachment.id).then((known) => { card.href = known.url; }, () => {});
    card.onclick = (e) => {
      const known = links.get(attachment.id);
      if (known && expires(known) - Date.now() > 15000) return;
      e.preventDefault(); // expired: fetch a fresh link, then open it
      fresh(attachment.id).then((next) => { card.href = next.url; window.open(next.url, '_blank', 'noopener'); });
    };
    return card;
  }

  // ---- rendering: widget.js calls row() each time it (re)builds a message's row
  function row(li, message) {
    li.querySelectorAll('.at').forEach((node) => node.remove());
    const job = jobs.get(message.client_id), bubble = li.querySelector('.bu'), meta = li.querySelector('.mt');
    if (message.deleted) return;
    li.classList.add('att');
    const box = el('div', 'at');
    (message.attachments || []).forEach((a) => {
      if (!a.id) { // not uploaded yet: the visitor's own file
        const card = el('div', 'atf');
        card.append(el('b', 0, a.name), el('span', 0, size(a.size)));
        if (job && job.preview) {
          const img = el('img');
          img.src = job.preview;
          img.alt = a.name;
          const frame = el('div', 'ati');
          frame.appendChild(img);
          return box.appendChild(frame);
        }
        return box.appendChild(card);
      }
      box.appendChild(IMAGE.test(a.mime) && (a.thumbnail || shown.has(a.id) || a.width) ? thumbnail(a) : fileCard(a));
    });
    bubble.after(box);
    if (message.status == 'up' || message.status == 'upfail') status(li, meta, message, job);
  }

  function status(li, meta, message, job) {
    const line = el('div', 'mt');
    if (meta) meta.remove();
    li.appendChild(line);
    const button = (text, label, action) => {
      const b = el('button', 'rt', text);
      b.type = 'button';
      b.setAttribute('aria-label', label);
      b.onclick = action;
      line.appendChild(b);
    };
    const name = message.attachments[0].name;
    if (!job) { // the page was closed before the file went: it is gone
      line.appendChild(el('span', 0, 'Not sent: the file was lost when the page closed.'));
      return button('Remove', 'Remove ' + name, () => remove(message));
    }
    if (message.status == 'upfail') {
      line.appendChild(el('span', 0, message.upload_error));
      if (job.retry) button('Retry', 'Retry sending ' + name, () => {
        job.message.upload_error = null;
        job.message.status = 'up';
        start(job);
        changed();
      });
      return button('Remove', 'Remove ' + name, () => remove(message));
    }
    const bar = job.bar = el('progress', 'atp');
    bar.max = job.file.size || 1;
    bar.value = job.acked;
    bar.setAttribute('aria-label', 'Uploading ' + name);
    line.append(bar, job.label = el('span'));
    showProgress(job);
    button('Cancel', 'Cancel sending ' + name, () => cancel(job));
  }

  return {add, pick, row};
});
