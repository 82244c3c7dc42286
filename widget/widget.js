/*! Frontdesk chat widget. Plain JavaScript: no dependencies, no build step.
 * Embed: <script src="https://chat.example.com/widget.js" data-site="SITE_KEY" async></script>
 * Wire contract: docs/PROTOCOL.md, "Visitor endpoint". Visitor, agent and tenant
 * text is only ever set with textContent; the one innerHTML is a constant. */
(() => {
  'use strict';
  const previous = window.Frontdesk;
  if (previous && previous.version) return; // the tag is on the page twice
  const script = document.currentScript || document.querySelector('script[data-site][src*="widget"]');
  if (!script || !script.src) return;
  const SITE = script.getAttribute('data-site') || '';
  const SCRIPT_URL = new URL(script.src, location.href);
  const SOCKET_URL = SCRIPT_URL.protocol.replace('http', 'ws') + '//' + SCRIPT_URL.host + '/v1/visitor?site=' +
    encodeURIComponent(SITE);
  const noop = () => {};

  // ---- the stored record: one per site, versioned
  // Version 1: the first widget's unversioned record under "frontdesk:SITE".
  const SCHEMA_VERSION = 2, STORAGE_KEY = 'frontdesk.widget:' + SITE, LEGACY_KEY = 'frontdesk:' + SITE;
  const SAVED = ['session', 'conversationId', 'config', 'panelOpen', 'prechatDone', 'pendingProfile'];
  const MIGRATIONS = {
    1: (old) => ({
      session: old.token ? {token: old.token, visitorId: old.vid} : null,
      conversationId: old.conv,
      outbox: (old.out || []).map((o) => ({client_id: o.c, body: o.b, created_at: o.t, conversation_id: o.v,
        author_kind: 'visitor', status: o.f ? 'failed' : 'pending'})),
      config: old.cfg,
      panelOpen: old.open,
      prechatDone: old.pre,
      pendingProfile: old.prof,
    }),
  };
  function readStorage() {
    let record;
    try {
      record = JSON.parse(localStorage.getItem(STORAGE_KEY));
      if (!record) record = {...JSON.parse(localStorage.getItem(LEGACY_KEY)), version: 1};
    } catch (e) { /* private mode, or a damaged record */ }
    while (record && MIGRATIONS[record.version]) record = {...MIGRATIONS[record.version](record), version: record.version + 1};
    return record || {};
  }

  // ---- state: everything the widget knows
  const stored = readStorage();
  const state = {
    session: null, // {token, visitorId}
    conversationId: null,
    config: null, // cached: drawn before the socket opens
    panelOpen: false,
    prechatDone: false,
    pendingProfile: null,
    // Stored ones have an id; unsent ones (the outbox) only a client_id.
    messages: stored.outbox || [],
    visitor: {},
    connection: 'connecting', // online | connecting | offline
    reconnecting: false,
    unread: 0,
    agentSeenSeq: 0,
    ownSeenSeq: 0,
    agentsOnline: true,
    withinHours: true,
    hasEarlier: false,
    conversations: {},
    agentTyping: null, // a name, or ''
    preview: null, // peeks above the closed launcher
  };
  SAVED.forEach((key) => { if (stored[key] != null) state[key] = stored[key]; });
  const outbox = () => state.messages.filter((m) => !m.id);
  const findMessage = (id, clientId) => state.messages.find((m) => id && m.id == id || clientId && m.client_id == clientId);
  const sortedMessages = () => state.messages.slice().sort((a, b) => a.id && b.id ?
    a.conversation_id - b.conversation_id || a.seq - b.seq : a.id ? -1 : b.id ? 1 : a.created_at - b.created_at);

  function persist() {
    const record = {version: SCHEMA_VERSION, outbox: outbox()};
    SAVED.forEach((key) => { record[key] = state[key]; });
    try {
      localStorage.setItem(STORAGE_KEY, JSON.stringify(record));
      localStorage.removeItem(LEGACY_KEY);
    } catch (e) { /* quota, private mode */ }
  }
  persist(); // in the new schema at once

  function needsPrechat() {
    const prechat = state.config && state.config.prechat;
    if (!prechat || !prechat.enabled || state.prechatDone) return false;
    if (state.messages.some((m) => m.author_kind == 'visitor')) return false;
    return (prechat.fields || []).some((f) => !state.visitor[f.name]);
  }

  function checkHours(config) {
    const hours = config && config.business_hours;
    if (hours && hours.enabled) loadModule('hours').then((check) => check(hours), noop); else state.withinHours = true;
  }

  // ---- the link: one socket to the server, and no DOM
  class Link {
    constructor(url, owner) {
      Object.assign(this, {url, owner, socket: null, waiting: new Map(), lastRef: 0, attempt: 0, refusals: 0,
        stopped: false, ready: false, cursor: 0, epoch: null});
    }

    connect() {
      if (this.stopped || this.socket) return;
      clearTimeout(this.retryTimer);
      let socket, opened = false;
      try { socket = this.socket = new WebSocket(this.url); } catch (e) { return this.owner.onRefused(); }
      socket.onopen = () => { opened = true; this.greet(socket); };
      socket.onmessage = (e) => { if (socket == this.socket) this.receive(e.data); };
      socket.onclose = (e) => {
        if (socket != this.socket) return;
        const wasReady = this.ready;
        this.socket = null;
        this.ready = false;
        clearInterval(this.pingTimer);
        this.waiting.forEach((w) => { clearTimeout(w.timer); w.reject({code: 'offline'}); });
        this.waiting.clear();
        if (wasReady) this.attempt = 0;
        this.owner.onClose(e.code, {wasReady, opened});
        if (opened) this.retry(e.code == 1013 ? 8 : 1); else this.probe();
      };
    }

    greet(socket) {
      const fields = this.owner.greeting(), resumed = !!this.epoch;
      if (resumed) Object.assign(fields, {since: this.cursor, epoch: this.epoch});
      this.request('hello', fields).then((reply) => {
        if (socket != this.socket) return;
        this.epoch = reply.epoch;
        if (!resumed || reply.reset_required) this.cursor = reply.last_event_id || 0;
        this.ready = true;
        this.attempt = this.refusals = 0;
        clearInterval(this.pingTimer);
        this.pingTimer = setInterval(() => this.request('ping', {}, 10000).catch(noop), 25000);
        this.owner.onReady(reply, resumed);
      }, (error) => {
        if (socket != this.socket) return;
        this.owner.onHelloError(error);
        socket.close();
      });
    }

    request(type, fields, timeoutMs = 15000) {
      return new Promise((resolve, reject) => {
        const socket = this.socket, ref = String(++this.lastRef);
        if (!socket || socket.readyState != 1) return reject({code: 'offline'});
        const timer = setTimeout(() => {
          this.waiting.delete(ref);
          reject({code: 'offline'});
          socket.close(); // no answer: assume the socket is dead and start over
        }, timeoutMs);
        this.waiting.set(ref, {resolve, reject, timer});
        socket.send(JSON.stringify({type, ref, ...fields}));
      });
    }

    tell(type, fields) {
      if (this.socket && this.socket.readyState == 1) this.socket.send(JSON.stringify({type, ...fields}));
    }

    receive(text) {
      let frame;
      try { frame = JSON.parse(text); } catch (e) { return; }
      if (frame.type == 'reply' || frame.type == 'error') {
        const waiter = this.waiting.get(frame.ref);
        if (waiter) {
          this.waiting.delete(frame.ref);
          clearTimeout(waiter.timer);
          (frame.type == 'reply' ? waiter.resolve : waiter.reject)(frame);
        } else if (frame.type == 'error') console.warn('[Frontdesk] ' + frame.code + ': ' + frame.message);
        return;
      }
      if (frame.type != 'event') return;
      if (frame.event_id > this.cursor) this.cursor = frame.event_id;
      this.owner.onEvent(frame);
    }

    // Backoff: 0.4 s, 0.8 s, 1.6 s ... up to 10 s, each drawn from its upper half
    // (jitter), so a restarted server is not hit by every widget at once.
    retry(factor) {
      const delay = Math.min(10000 * factor, 400 * 2 ** this.attempt++ * factor);
      this.retryTimer = setTimeout(() => this.connect(), delay / 2 + Math.random() * delay / 2);
    }

    // Never opened, yet HTTP works: refused (origin, site key). Stop at the third.
    probe() {
      fetch(SCRIPT_URL, {mode: 'no-cors', cache: 'no-store'}).then(() => {
        if (++this.refusals >= 3) this.owner.onRefused(); else this.retry(1);
      }, () => { this.refusals = 0; this.retry(1); });
    }

    wake() {
      if (this.socket || this.stopped) return;
      this.attempt = 0;
      this.connect();
    }

    stop() {
      this.stopped = true;
      clearTimeout(this.retryTimer);
    }

    forgetCursor() {
      this.cursor = 0;
      this.epoch = null;
    }
  }

  // ---- the view: reads state and renders
  const ICON = '<svg aria-hidden="true" focusable="false" viewBox="0 0 24 24" ';
  const STROKE = 'fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round" stroke-linejoin="round"';
  const CSS = ':host{all:initial}' +
    '.fd{all:initial;font:15px/1.45 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#111827;-webkit-font-smoothing:antialiased}' +
    '.fd *{box-sizing:border-box}[hidden]{display:none!important}' +
    'button,input,textarea{font:inherit;color:inherit;margin:0}button{cursor:pointer}' +
    ':focus-visible{outline:2px solid var(--ring);outline-offset:2px}.h :focus-visible{outline-color:var(--on)}' +
    '.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}' +
    '.l{position:fixed;bottom:20px;right:20px;z-index:2147483000;width:60px;height:60px;padding:0;border:0;border-radius:50%;background:var(--c);color:var(--on);display:grid;place-items:center;box-shadow:0 6px 20px rgba(15,23,42,.25),0 2px 4px rgba(15,23,42,.12);transition:transform .2s}' +
    '.l:hover{transform:scale(1.06)}.l svg{grid-area:1/1;width:28px;height:28px;transition:transform .2s,opacity .2s}' +
    '.l .x{opacity:0;transform:rotate(-90deg)}.open .l .x{opacity:1;transform:none}.open .l .i{opacity:0;transform:rotate(90deg)}' +
    '.b{position:absolute;top:-4px;right:-4px;min-width:22px;height:22px;padding:0 5px;border-radius:11px;border:2px solid #fff;background:#dc2626;color:#fff;font-size:12px;font-weight:700;line-height:18px;text-align:center}' +
    '.p{position:fixed;bottom:92px;right:20px;z-index:2147483000;width:380px;height:min(640px,calc(100vh - 116px));display:flex;flex-direction:column;background:#fff;border-radius:16px;overflow:hidden;box-shadow:0 16px 48px rgba(15,23,42,.22),0 2px 8px rgba(15,23,42,.08);visibility:hidden;opacity:0;transform:translateY(16px) scale(.98);transform-origin:bottom right;transition:opacity .2s,transform .2s,visibility 0s .2s}' +
    '.left .l,.left .p{right:auto;left:20px}.left .p{transform-origin:bottom left}' +
    '.open .p{visibility:visible;opacity:1;transform:none;transition-delay:0s}' +
    '.h{flex:none;display:flex;align-items:center;gap:12px;padding:18px 14px 18px 18px;background:var(--c);color:var(--on)}' +
    '.av{flex:none;width:42px;height:42px;border-radius:50%;background:var(--on);color:var(--c);display:grid;place-items:center;font-size:18px;font-weight:700}' +
    '.tt{flex:1;min-width:0}.tt h2{margin:0;font-size:17px;font-weight:650;line-height:1.25;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}' +
    '.tt p{margin:3px 0 0;font-size:13px;display:flex;align-items:center;gap:7px}' +
    '.pd{flex:none;width:8px;height:8px;border-radius:50%;background:#9ca3af;box-shadow:0 0 0 2px #fff,0 0 0 3px rgba(0,0,0,.3)}.here .pd{background:#22c55e}' +
    '.cl{flex:none;width:36px;height:36px;padding:0;border:0;border-radius:10px;background:none;color:var(--on);display:grid;place-items:center}.cl:hover{background:rgba(127,127,127,.22)}.cl svg{width:20px;height:20px}' +
    '.m{flex:1;min-height:96px;overflow-y:auto;overscroll-behavior:contain;padding:16px 14px 6px;background:#f6f7f9}.m:focus-visible{outline-offset:-2px}' +
    'ol{list-style:none;margin:0;padding:0}.r{display:flex;flex-direction:column;align-items:flex-start}.me{align-items:flex-end}' +
    '.who{margin:10px 0 4px 4px;font-size:12px;font-weight:600;color:#4b5563}' +
    '.bu{max-width:84%;margin-top:3px;padding:9px 13px;border:1px solid #e5e7eb;border-radius:18px 18px 18px 6px;background:#fff;white-space:pre-wrap;overflow-wrap:anywhere}' +
    '.me.s .bu{margin-top:10px}.me .bu{border-color:transparent;border-radius:18px 18px 6px 18px;background:var(--c);color:var(--on)}.bu a{color:inherit}' +
    '.del .bu{font-style:italic;color:#6b7280;background:none}.sys{align-items:center;margin:10px 0;font-size:12.5px;color:#4b5563}.sys .bu{background:none;border:0;padding:0}' +
    '.mt{display:flex;align-items:center;gap:6px;margin:3px 6px 8px;font-size:11.5px;color:#5b6270}' +
    '.failed .mt{color:#b91c1c}.rt{padding:0;border:0;background:none;color:#b91c1c;font-weight:650;text-decoration:underline}' +
    '.more{display:block;margin:0 auto 10px;padding:5px 12px;border:1px solid #d1d5db;border-radius:14px;background:#fff;font-size:12.5px}' +
    '.ty{display:flex;align-items:center;gap:8px;padding:2px 0 10px;font-size:12.5px;color:#4b5563}' +
    '.dots{display:inline-flex;gap:4px;padding:11px 13px;border:1px solid #e5e7eb;border-radius:16px;background:#fff}' +
    '.dots i{width:6px;height:6px;border-radius:50%;background:#9ca3af;animation:fdb 1.2s infinite}.dots i+i{animation-delay:.15s}.dots i+i+i{animation-delay:.3s}' +
    '@keyframes fdb{0%,60%,100%{transform:none;opacity:.5}30%{transform:translateY(-4px);opacity:1}}' +
    '.pf{display:flex;flex-direction:column;gap:12px;margin:12px 0 8px;padding:18px;border:1px solid #e5e7eb;border-radius:14px;background:#fff}' +
    '.pfs{display:flex;flex-direction:column;gap:12px}.pf h3{margin:0;font-size:15px}.pf p,.nb p{margin:0;font-size:13px;color:#4b5563}' +
    '.pf label{display:flex;flex-direction:column;gap:5px;font-size:13px;font-weight:600;color:#374151}' +
    'input{width:100%;min-width:0;padding:9px 12px;border:1px solid #c4c9d2;border-radius:10px;background:#fff;font-size:14px;font-weight:400}' +
    'input:focus{outline:2px solid var(--ring);outline-offset:-1px}' +
    '.bt{flex:none;padding:9px 16px;border:0;border-radius:10px;background:var(--c);color:var(--on);font-weight:600}' +
    '.nb{flex:none;padding:11px 16px;border-top:1px solid #e5e7eb;font-size:13px}.nb form{display:flex;gap:8px;margin-top:9px}' +
    '.of{background:#fef3c7;color:#78350f;border-color:#fde68a}.aw{flex:0 1 auto;overflow:auto;background:#f8fafc}.aw p{color:#1f2937}.aok{margin-top:6px!important;font-weight:600}' +
    '.c{flex:none;display:flex;align-items:flex-end;gap:8px;padding:10px 10px 10px 16px;border-top:1px solid #e5e7eb;background:#fff}' +
    '.c:focus-within{box-shadow:inset 0 2px 0 var(--ring)}' +
    'textarea,textarea:focus-visible{flex:1;max-height:120px;padding:8px 0;border:0;outline:0;resize:none;background:none;font-size:15px;line-height:1.4}textarea::placeholder{color:#6b7280}' +
    '.sd,.ac{flex:none;width:38px;height:38px;padding:0;border:0;border-radius:50%;background:var(--c);color:var(--on);display:grid;place-items:center}.sd:disabled{opacity:.4;cursor:default}.c svg{width:18px;height:18px}.fd .ac{background:none;color:#4b5563}' +
    '.f{flex:none;display:flex;justify-content:space-between;padding:2px 16px 9px;background:#fff;font-size:11.5px;color:#5b6270}' +
    '.cs{display:inline-flex;align-items:center;gap:6px}.cs i{width:8px;height:8px;border-radius:50%;background:#eab308}' +
    '.cs[data-state=offline] i{background:#dc2626}' +
    '.pk{position:fixed;bottom:92px;right:20px;z-index:2147483000;width:300px;max-width:calc(100vw - 40px);border-radius:14px;background:#fff;box-shadow:0 10px 32px rgba(15,23,42,.2),0 1px 3px rgba(15,23,42,.1);animation:fdp .25s ease-out}.left .pk{right:auto;left:20px}' +
    '.pkb{display:block;width:100%;padding:14px 38px 14px 16px;border:0;border-radius:14px;background:none;text-align:left}' +
    '.pkn{display:block;margin-bottom:3px;font-size:12.5px;font-weight:650;color:#4b5563}.pkt{display:-webkit-box;-webkit-line-clamp:3;-webkit-box-orient:vertical;overflow:hidden;font-size:14px}' +
    '.pkx{position:absolute;top:7px;right:7px;width:28px;height:28px;padding:0;border:0;border-radius:8px;background:none;color:#4b5563;display:grid;place-items:center}.pkx:hover{background:#f3f4f6}.pkx svg{width:14px;height:14px}' +
    '@keyframes fdp{from{opacity:0;transform:translateY(8px)}}.open .pk{display:none}' +
    '@media print{.fd{display:none}}' +
    '@media (max-width:480px){textarea,input{font-size:16px}.fd .f{padding-bottom:max(9px,env(safe-area-inset-bottom))}.fd .p{inset:0;width:100%;height:100%;border-radius:0}.fd .pk{right:16px;bottom:88px}.fd.left .pk{left:16px}.open .l{display:none}.fd .l{bottom:16px;right:16px}.fd.left .l{right:auto;left:16px}}' +
    '@media (prefers-reduced-motion:reduce){.fd *{transition:none!important;animation:none!important}}';
  const TEMPLATE = '<div class="fd">' +
    '<button class="l" type="button" aria-expanded="false" aria-controls="p">' +
      ICON + 'class="i" fill="currentColor"><path d="M12 3C6.5 3 2 6.9 2 11.6c0 2.5 1.3 4.8 3.4 6.3L4.6 21.4l4.1-2c1 .3 2.2.5 3.3.5 5.5 0 10-3.9 10-8.7S17.5 3 12 3z"/></svg>' +
      ICON + 'class="x" ' + STROKE + '><path d="M6 9l6 6 6-6"/></svg><span class="b" aria-hidden="true" hidden></span></button>' +
    '<div class="pk" hidden><button class="pkb" type="button"><span class="pkn"></span><span class="pkt" dir="auto"></span></button>' +
      '<button class="pkx" type="button" aria-label="Dismiss">' + ICON + STROKE + '><path d="M6 6l12 12M18 6L6 18"/></svg></button></div>' +
    '<div class="p" id="p" role="dialog" aria-labelledby="t">' +
      '<div class="h"><div class="av" aria-hidden="true"></div><div class="tt"><h2 id="t"></h2><p><span class="pd"></span><span class="ps"></span></p></div>' +
        '<button class="cl" type="button" aria-label="Close chat">' + ICON + STROKE + '><path d="M6 6l12 12M18 6L6 18"/></svg></button></div>' +
      '<div class="m" role="region" aria-label="Conversation" tabindex="0">' +
        '<button class="more" type="button" hidden>Show earlier messages</button>' +
        '<div class="r gr"><span class="who"></span><div class="bu" dir="auto"></div></div>' +
        '<ol aria-label="Messages"></ol>' +
        '<form class="pf" hidden><h3>Before we start</h3><p>Tell us who you are so we can follow up.</p><div class="pfs"></div><button class="bt" type="submit">Start chat</button></form>' +
        '<div class="ty" hidden><span class="dots" aria-hidden="true"><i></i><i></i><i></i></span><span class="tyl"></span></div></div>' +
      '<div class="nb of" hidden><p>You\u2019re offline. Your messages will be sent when the connection is back.</p></div>' +
      '<div class="nb aw" hidden><p class="awm"></p><form class="ae"><input type="email" dir="auto" required autocomplete="email" aria-label="Your email address" placeholder="you@example.com"><button class="bt" type="submit">Save</button></form><p class="aok" hidden></p></div>' +
      '<form class="c" hidden><textarea dir="auto" rows="1" maxlength="10000" aria-label="Message" placeholder="Write a message\u2026"></textarea>' +
        '<button class="ac" type="button" aria-label="Attach a file" hidden>' + ICON + STROKE + '><path d="M20 11l-8 8a5 5 0 01-7-7l8-8a3.5 3.5 0 015 5l-8 8a2 2 0 01-3-3l7-7"/></svg></button><button class="sd" type="submit" aria-label="Send message" disabled>' + ICON + STROKE + '><path d="M12 19V5M5 12l7-7 7 7"/></svg></button></form>' +
      '<div class="f"><span class="cs" role="status" data-state="connecting"><i></i><span class="csl">Connecting</span></span><span>Powered by Frontdesk</span></div>' +
      '<div class="sr" aria-live="polite"></div>' +
    '</div></div>';

  // t(English): the words of widget/i18n-LANG.js or the tenant's (PROTOCOL.md, "Widget language").
  let host = null, root = null, panelFrame = null, audio = null, drawnConfig = null, waiting,
    lang = 'en', words = {}, statics = [];
  const said = () => (state.config.translations || {})[lang] || {}, t = (text) => said()[text] || words[text] || text;
  let rows; // message -> [li, signature]
  const $ = (selector) => root.querySelector(selector);
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    return node;
  }
  function setText(node, text) {
    if (node.textContent != text) node.textContent = text;
  }

  function mount() {
    if (host || !state.config || waiting) return;
    if (!document.body) return document.addEventListener('DOMContentLoaded', mount);
    host = document.createElement('frontdesk-chat');
    root = host.attachShadow({mode: 'open'});
    root.innerHTML = TEMPLATE; // constant markup only
    // A constructed stylesheet is not an inline <style>, so a host page's CSP
    // without 'unsafe-inline' does not strip our styles.
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      root.adoptedStyleSheets = [sheet];
    } catch (e) { root.prepend(el('style', 0, CSS)); }
    panelFrame = $('.fd');
    for (const walk = document.createTreeWalker(root, 5); walk.nextNode();) {
      ['data', 'ariaLabel', 'placeholder'].forEach((a) => walk.currentNode[a] && statics.push([walk.currentNode, a]));
    }
    statics.forEach((s) => s.push(s[0][s[1]]));
    const composer = $('.c textarea'), sendButton = $('.sd');
    $('.l').onclick = () => setPanelOpen(!state.panelOpen, true);
    $('.cl').onclick = () => setPanelOpen(false, true);
    $('.pkb').onclick = () => setPanelOpen(true, true);
    $('.pkx').onclick = () => {
      dismissPreview();
      $('.l').focus();
    };
    $('.p').addEventListener('keydown', (e) => {
      if (e.key == 'Escape') {
        e.preventDefault();
        setPanelOpen(false, true);
      }
      // Full screen on a phone, the panel is modal: Tab cycles inside it.
      if (e.key == 'Tab' && window.matchMedia('(max-width:480px)').matches) {
        const stops = [...$('.p').querySelectorAll('button,textarea,input,[tabindex]')]
          .filter((x) => !x.disabled && x.offsetParent);
        const first = stops[0], last = stops[stops.length - 1];
        if (root.activeElement == (e.shiftKey ? first : last)) {
          e.preventDefault();
          (e.shiftKey ? last : first).focus();
        }
      }
    });
    root.addEventListener('pointerdown', unlockAudio);
    root.addEventListener('keydown', unlockAudio);
    const grow = () => {
      composer.style.height = 'auto';
      composer.style.height = Math.min(composer.scrollHeight, 120) + 'px';
      sendButton.disabled = !composer.value.trim();
    };
    const submit = (e) => {
      e.preventDefault();
      send(composer.value);
      composer.value = '';
      grow();
    };
    $('.c').onsubmit = submit;
    const panel = $('.p'), clip = $('.ac');
    clip.onclick = () => attach('pick');
    panel.ondragover = (e) => clip.hidden || e.preventDefault();
    panel.ondrop = panel.onpaste = (e) => {
      const files = (e.dataTransfer || e.clipboardData).files;
      if (files[0] && !clip.hidden) attach('add', files, e.preventDefault());
    };
    composer.addEventListener('keydown', (e) => {
      // Enter sends, Shift+Enter is a newline; never interrupt an IME composition.
      if (e.key == 'Enter' && !e.shiftKey && !e.isComposing) submit(e);
    });
    composer.addEventListener('input', () => {
      grow();
      composerChanged(composer.value);
    });
    $('.more').onclick = () => { // what was on screen stays put
      const box = $('.m'), heightBefore = box.scrollHeight;
      loadEarlier().then(() => { box.scrollTop += box.scrollHeight - heightBefore; });
    };
    $('.pf').onsubmit = (e) => {
      e.preventDefault();
      const fields = {};
      $('.pf').querySelectorAll('input').forEach((i) => { if (i.value.trim()) fields[i.name] = i.value.trim(); });
      submitPrechat(fields);
      composer.focus();
    };
    $('.ae').onsubmit = (e) => {
      e.preventDefault();
      updateProfile({email: $('.ae input').value.trim()});
    };
    document.body.appendChild(host);
    render(true);
    if (state.panelOpen) emit('open');
  }

  function luminance(hex) {
    return [1, 3, 5].reduce((sum, at, i) => {
      const v = parseInt(hex.substr(at, 2), 16) / 255;
      return sum + [0.2126, 0.7152, 0.0722][i] * (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    }, 0);
  }
  function contrast(a, b) {
    const x = luminance(a) + 0.05, y = luminance(b) + 0.05;
    return x > y ? x / y : y / x;
  }

  function renderConfig(config) {
    const color = /^#[0-9a-f]{6}$/i.test(config.color) ? config.color : '#2563eb', dark = '#111827';
    const style = panelFrame.style, name = config.business_name || 'Chat';
    style.setProperty('--c', color);
    style.setProperty('--on', contrast(color, '#ffffff') >= contrast(color, dark) ? '#fff' : dark);
    style.setProperty('--ring', contrast(color, '#ffffff') >= 3 ? color : dark);
    panelFrame.classList.toggle('left', config.position == 'left');
    $('#t').textContent = name;
    $('.av').textContent = name.trim().charAt(0).toUpperCase();
    $('.gr .who').textContent = name;
    statics.forEach(([node, a, text]) => { node[a] = t(text); });
    panelFrame.lang = lang;
    rows = new WeakMap;
    $('.gr').hidden = !($('.gr .bu').textContent = said().greeting || config.greeting || '');
    $('.ac').hidden = !config.max_upload_mb || !(config.upload_kinds || '')[0];
    $('.awm').textContent = said().away_message || config.away_message ||
      "We're away right now. Leave a message and your email, and we'll get back to you.";
  }

  function render(toBottom) {
    if (!host) return;
    const config = state.config, visitor = state.visitor, box = $('.m'), prechat = needsPrechat();
    const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 60;
    if (config !== drawnConfig) renderConfig(drawnConfig = config);

    const away = !state.agentsOnline || !state.withinHours, live = state.connection == 'online', cs = $('.cs');
    cs.setAttribute('data-state', state.connection);
    cs.hidden = live;
    setText($('.csl'), t(state.connection == 'offline' ? 'Offline' : state.reconnecting ? 'Reconnecting\u2026' : 'Connecting\u2026'));
    $('.of').hidden = state.connection != 'offline';
    $('.h').classList.toggle('here', live && !away);
    setText($('.ps'), state.q ? '#' + state.q + ' in line' : t(away ? 'Away right now' : live ? 'Online \u00b7 we reply in a few minutes' : 'We reply in a few minutes'));
    $('.aw').hidden = !away;
    $('.ae').hidden = !!visitor.email || prechat;
    $('.aok').hidden = !visitor.email;
    setText($('.aok'), t('We\u2019ll reply to {email}.').replace('{email}', visitor.email));

    const unread = state.unread, badge = $('.b'), launcher = $('.l');
    badge.hidden = !unread;
    setText(badge, unread > 9 ? '9+' : String(unread));
    launcher.setAttribute('aria-label', (said().launcher_label || config.launcher_label || 'Chat with us') +
      (unread ? ', ' + t(unread > 1 ? '{n} unread messages' : '1 unread message').replace('{n}', unread) : ''));
    launcher.setAttribute('aria-expanded', state.panelOpen);
    panelFrame.classList.toggle('open', state.panelOpen);
    $('.pk').hidden = !state.preview;
    if (state.preview) {
      setText($('.pkn'), state.preview.author_name || config.business_name || '');
      setText($('.pkt'), state.preview.body);
    }
    $('.ty').hidden = state.agentTyping == null;
    setText($('.tyl'), t('{name} is typing\u2026').replace('{name}', state.agentTyping || t('An agent')));

    renderThread();
    if (prechat) loadModule('prechat').then((draw) => draw(t), noop);
    $('.pf').hidden = !prechat;
    $('.c').hidden = prechat;
    $('.more').hidden = !state.hasEarlier;
    if (toBottom || nearBottom) box.scrollTop = box.scrollHeight;
  }

  // Text to nodes. Links are http(s) only and open without an opener or referrer.
  const LINK_PATTERN = /\bhttps?:\/\/[^\s<>"']+/gi;
  function linkify(node, text) {
    let at = 0, match;
    LINK_PATTERN.lastIndex = 0;
    while ((match = LINK_PATTERN.exec(text))) {
      const url = match[0].replace(/[.,;:!?)\]]+$/, '');
      let link = el('a', 0, url);
      node.appendChild(document.createTextNode(text.slice(at, match.index)));
      try {
        link.href = new URL(url).href;
        link.target = '_blank';
        link.rel = 'noopener noreferrer';
      } catch (e) { link = document.createTextNode(url); }
      node.appendChild(link);
      LINK_PATTERN.lastIndex = at = match.index + url.length;
    }
    node.appendChild(document.createTextNode(text.slice(at)));
  }

  function formatTime(time) {
    const date = new Date(time), age = (new Date().setHours(24, 0, 0, 0) - date) / 864e5;
    const options = {hour: 'numeric', minute: '2-digit'};
    if (age > 6) Object.assign(options, {day: 'numeric', month: 'short'});
    else if (age > 1) options.weekday = 'short';
    try { return date.toLocaleString([], options); } catch (e) { return ''; }
  }

  const sameGroup = (a, b) => a && b && a.author_kind == b.author_kind &&
    (a.author_kind == 'visitor' || a.author_name == b.author_name);

  function renderThread() {
    const list = sortedMessages(), ol = $('ol'), children = ol.children;
    let lastOwn = null;
    list.forEach((m) => { if (m.author_kind == 'visitor' && m.id) lastOwn = m; });
    list.forEach((m, i) => {
      const previous = list[i - 1], next = list[i + 1];
      const groupEnd = !sameGroup(m, next) || next.created_at - m.created_at > 120000;
      const li = renderRow(m, !sameGroup(previous, m), groupEnd, m == lastOwn);
      if (children[i] !== li) ol.insertBefore(li, children[i] || null);
    });
    while (children.length > list.length) ol.removeChild(ol.lastChild);
  }

  function renderRow(message, groupStart, groupEnd, lastOwn) {
    const own = message.author_kind == 'visitor', system = message.author_kind == 'system';
    const li = (rows.get(message) || [el('li')])[0], status = message.status;
    const seen = lastOwn && message.seq <= state.agentSeenSeq;
    const signature = [status, message.body, groupStart, groupEnd, seen, status == 'pending' && state.connection,
      message.author_name, message.edited_at, message.deleted].join('\n');
    if ((rows.get(message) || [])[1] == signature) return li;
    rows.set(message, [li, signature]);
    li.className = 'r ' + (own ? 'me ' : system ? 'sys ' : '') + (groupStart ? 's ' : '') + (message.deleted ? 'del ' : '') + status;
    li.setAttribute('data-author', message.author_kind);
    li.setAttribute('data-status', status);
    li.textContent = '';
    if (!own && !system && groupStart) li.appendChild(el('span', 'who', message.author_name || state.config.business_name));
    const bubble = el('div', 'bu');
    bubble.dir = 'auto';
    linkify(bubble, message.deleted ? t('Message deleted') : message.body);
    li.appendChild(bubble);
    if ((message.attachments || '')[0]) attach('row', li, message);
    let meta = el('div', 'mt');
    if (status == 'failed') {
      const retryButton = el('button', 'rt', t('Retry'));
      meta.appendChild(el('span', 0, t('Not sent')));
      retryButton.type = 'button';
      retryButton.setAttribute('aria-label', t('Retry sending message'));
      retryButton.onclick = () => {
        retry(message);
        $('.c textarea').focus();
      };
      meta.appendChild(retryButton);
    } else if (status == 'pending') {
      meta.textContent = t(state.connection == 'online' ? 'Sending\u2026' : 'Waiting for connection\u2026');
    } else if (groupEnd && !system || message.edited_at) {
      meta.textContent = formatTime(message.created_at) + (own ? ' \u00b7 ' + t(seen ? 'Seen' : 'Sent') : '') +
        (message.edited_at && !message.deleted ? ' \u00b7 ' + t('edited') : '');
    } else meta = null;
    if (meta) li.appendChild(meta);
    return li;
  }

  function announce(text) {
    if (!host) return;
    const region = $('.sr');
    region.textContent = '';
    setTimeout(() => { region.textContent = text.slice(0, 300); }, 60);
  }

  function unlockAudio() {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!audio && Context) try { audio = new Context(); } catch (e) { /* no audio */ }
  }
  function chime() { // widget/sound.js plays it
    if (audio && !(state.config && state.config.sound === false)) loadModule('sound').then((play) => play(audio), noop);
  }

  // ---- the actions: what the visitor and the server do to the state
  const subscribers = {};
  function emit(name, arg) {
    (subscribers[name] || []).slice().forEach((fn) => {
      try { fn(arg); } catch (e) { setTimeout(() => { throw e; }); }
    });
  }

  function refresh(toBottom) {
    render(toBottom);
    markSeen();
  }

  function setConfig(config) {
    state.config = config;
    persist();
    const want = ([...navigator.languages, config.language].find((l) => /^(en|de|fr|es|pt)/.test(l)) || 'en').slice(0, 2);
    if (want != lang) {
      words = {};
      if ((lang = want) != 'en') {
        waiting = loadModule('i18n-' + want).then((w) => { words = w; }, noop).then(() => {
          waiting = 0;
          setConfig({...state.config});
        });
      }
    }
    mount();
    refresh();
  }

  function setPanelOpen(open, moveFocus) {
    const focusInside = !!(root && root.activeElement);
    state.panelOpen = open;
    if (open) {
      state.unread = 0;
      state.preview = null;
    } else stopTyping();
    persist();
    refresh(open);
    if (host && moveFocus) {
      if (open) (needsPrechat() && $('.pf input') || $('.c textarea')).focus();
      else if (focusInside) $('.l').focus();
    }
    emit(open ? 'open' : 'close');
  }

  function dismissPreview() {
    state.preview = null;
    render();
  }

  const newClientId = () => crypto.randomUUID ? crypto.randomUUID() : // only in secure contexts
    '10000000-1000-4000-8000-100000000000'.replace(/[018]/g, (c) => (c ^ crypto.getRandomValues(new Uint8Array(1))[0] &
      15 >> c / 4).toString(16));

  function receiveMessage(m, live) {
    let message = findMessage(m.id, m.client_id);
    const fresh = !message || !message.id;
    if (!message) state.messages.push(message = {});
    Object.assign(message, m, {status: 'sent'});
    if (m.conversation_id > state.conversationId) state.conversationId = m.conversation_id;
    if (!fresh || !live) return;
    emit('message', {id: m.id, conversation_id: m.conversation_id, seq: m.seq, author_kind: m.author_kind,
      author_name: m.author_name, body: m.body, created_at: m.created_at});
    if (message.author_kind == 'visitor') return;
    state.agentTyping = null;
    announce((message.author_name || (state.config && state.config.business_name) || 'Agent') + ': ' + message.body);
    if (!state.panelOpen || document.hidden) {
      state.unread++;
      chime();
    }
    if (!state.panelOpen) state.preview = message;
  }

  function send(text) {
    text = text.trim();
    if (!text) return;
    state.messages.push({client_id: newClientId(), body: text, created_at: Date.now(),
      conversation_id: state.conversationId, author_kind: 'visitor', status: 'pending'});
    persist();
    stopTyping();
    refresh(true);
    flushOutbox();
  }

  function retry(message) {
    message.status = 'pending';
    persist();
    refresh(true);
    flushOutbox();
  }

  // Send the outbox one message at a time, in order. A message that got no reply
  // is resent with the same client_id, so the server stores it exactly once.
  let flushing = false, flushRetries = 0;
  function flushOutbox() {
    const message = sortedMessages().find((m) => m.status == 'pending');
    if (flushing || !message || state.connection != 'online') return;
    flushing = true;
    link.request('message.send', {client_id: message.client_id, body: message.body,
      conversation_id: message.conversation_id || undefined, attachment_ids: message.attachment_ids}).then((reply) => {
      flushing = false;
      flushRetries = 0;
      receiveMessage({...message, created_at: reply.server_time, ...reply.message, conversation_id: reply.conversation_id,
        seq: reply.seq, client_id: message.client_id}, true);
      persist();
      refresh();
      flushOutbox();
    }, (error) => {
      flushing = false;
      if (error.code == 'rate_limited' || error.code == 'unavailable') {
        const delay = Math.min(30000, 3000 * 2 ** flushRetries++);
        setTimeout(flushOutbox, delay / 2 + Math.random() * delay / 2);
      } else if (error.code != 'offline') {
        message.status = 'failed';
        persist();
        refresh();
        console.warn('[Frontdesk] message not sent: ' + error.code + ' ' + (error.message || ''));
        flushOutbox();
      }
    });
  }

  function submitPrechat(fields) {
    state.prechatDone = true;
    persist();
    updateProfile(fields);
    refresh();
  }

  function updateProfile(fields) {
    if (!fields.name && !fields.email) return;
    if (fields.name) state.visitor.name = fields.name;
    if (fields.email) state.visitor.email = fields.email;
    state.pendingProfile = {...state.pendingProfile, ...fields};
    persist();
    refresh();
    sendProfile();
  }
  function sendProfile() {
    const profile = state.pendingProfile;
    if (!profile || state.connection != 'online') return Promise.resolve();
    return link.request('profile.update', profile).then((reply) => {
      if (state.pendingProfile == profile) state.pendingProfile = null;
      state.visitor = reply.visitor || state.visitor;
      persist();
      refresh();
    }, noop);
  }

  let identity = null; // sent again on every hello
  function sendIdentity() {
    if (!identity || state.connection != 'online') return Promise.resolve();
    return link.request('identify', identity).then((reply) => {
      state.visitor = reply.visitor || state.visitor;
      refresh();
    }, (error) => console.warn('[Frontdesk] identify refused: ' + (error.message || error.code)));
  }

  let typingSentAt = 0, typingStopTimer, agentTypingTimer;
  function composerChanged(text) {
    if (!state.conversationId || state.connection != 'online') return;
    clearTimeout(typingStopTimer);
    if (!text.trim()) return stopTyping();
    if (Date.now() - typingSentAt > 3000) { // throttled: at most one frame per 3 s
      typingSentAt = Date.now();
      link.tell('typing', {conversation_id: state.conversationId, is_typing: true});
    }
    typingStopTimer = setTimeout(stopTyping, 5000);
  }
  function stopTyping() {
    clearTimeout(typingStopTimer);
    if (typingSentAt) link.tell('typing', {conversation_id: state.conversationId, is_typing: false});
    typingSentAt = 0;
  }
  function agentTyping(data) {
    clearTimeout(agentTypingTimer);
    state.agentTyping = data.is_typing ? data.name || '' : null;
    if (data.is_typing) agentTypingTimer = setTimeout(() => agentTyping({}), 8000);
    refresh();
  }

  function markSeen() {
    if (!state.panelOpen || document.hidden || state.connection != 'online' || !state.conversationId) return;
    let top = 0;
    state.messages.forEach((m) => { if (m.conversation_id == state.conversationId && m.seq > top) top = m.seq; });
    if (top > state.ownSeenSeq) {
      state.ownSeenSeq = top;
      link.tell('seen', {conversation_id: state.conversationId, seq: top});
    }
  }

  function loadHistory(conversationId, beforeSeq) {
    return link.request('history', {conversation_id: conversationId, before_seq: beforeSeq, limit: 50}).then((reply) => {
      (reply.messages || []).forEach((m) => receiveMessage(m, false));
      state.hasEarlier = reply.has_more;
      refresh(!beforeSeq);
    }, noop);
  }
  function loadEarlier() {
    let lowest = 0;
    state.messages.forEach((m) => {
      if (m.id && m.conversation_id == state.conversationId && (!lowest || m.seq < lowest)) lowest = m.seq;
    });
    return lowest > 1 ? loadHistory(state.conversationId, lowest) : Promise.resolve();
  }

  function forgetVisitor(keepOutbox) {
    Object.assign(state, {session: null, conversationId: null, agentSeenSeq: 0, ownSeenSeq: 0, hasEarlier: false,
      preview: null, agentTyping: null, conversations: {}});
    state.messages = keepOutbox ? outbox() : [];
    state.messages.forEach((m) => { m.conversation_id = null; });
    if (!keepOutbox) {
      Object.assign(state, {visitor: {}, pendingProfile: null, prechatDone: false, unread: 0});
      identity = null;
      link.forgetCursor();
    }
    persist();
  }

  function pageMeta() {
    let timezone = '';
    try { timezone = Intl.DateTimeFormat().resolvedOptions().timeZone || ''; } catch (e) { /* old browser */ }
    return {url: location.href.slice(0, 2048), title: document.title.slice(0, 500),
      referrer: document.referrer.slice(0, 2048), language: navigator.language || '', timezone,
      user_agent: navigator.userAgent.slice(0, 512)};
  }

  function welcome(reply, resumed) {
    const visitorId = reply.visitor && reply.visitor.id, session = state.session;
    if (session && (session.token && session.token != reply.token || session.visitorId && session.visitorId != visitorId)) {
      forgetVisitor(true); // a new visitor: the old thread is not ours
    }
    state.session = {token: reply.token, visitorId};
    state.visitor = reply.visitor || {};
    state.agentsOnline = reply.agents_online !== false;
    state.withinHours = reply.within_hours !== false;
    let current = null, unread = 0;
    (reply.conversations || []).forEach((c) => {
      unread += c.unread_visitor || 0;
      track(c);
      if (c.status != 'resolved') current = c;
    });
    current = current || state.conversations[state.conversationId];
    if (current) state.conversationId = current.id;
    state.connection = 'online';
    state.unread = state.panelOpen ? 0 : unread;
    setConfig(reply.config || state.config || {});
    if (current && (!resumed || reply.reset_required)) loadHistory(current.id);
    if (reply.csat) loadModule('csat').then((m) => m.show(reply.csat)); // a survey still open: the card again
    sendIdentity().then(sendProfile).then(flushOutbox);
    emit('ready');
  }

  function receiveEvent(event) {
    const data = event.data || {}, kind = event.kind;
    if (kind == 'message.created') {
      if (!data.conversation_id) data.conversation_id = event.conversation_id;
      receiveMessage(data, true);
      persist();
    } else if (kind == 'message.updated') { // edited or deleted by its author
      Object.assign(findMessage(data.id) || {}, data);
      if (data.deleted && state.preview && state.preview.id == data.id) state.preview = null;
    } else if (kind == 'typing') {
      return agentTyping(data);
    } else if (kind == 'seen') {
      if (data.side == 'agent' && data.seq > state.agentSeenSeq) state.agentSeenSeq = data.seq;
    } else if (kind == 'presence') {
      state.agentsOnline = !!data.agents_online;
    } else if (kind == 'queue') {
      state.q = data.position;
    } else if (kind == 'config.updated') {
      const config = {...state.config, ...data};
      if ('agents_online' in data) state.agentsOnline = data.agents_online;
      if ('within_hours' in data) state.withinHours = data.within_hours; else checkHours(config);
      return setConfig(config);
    } else if (kind == 'conversation.updated') track(data);
    else if (kind.startsWith('csat')) loadModule('csat').then((m) => m.show(data));
    refresh();
  }

  const link = new Link(SOCKET_URL, {
    greeting: () => ({token: state.session ? state.session.token : undefined, meta: pageMeta()}),
    onReady: welcome,
    onEvent: receiveEvent,
    onHelloError(error) {
      // Only a bad token loses the session; anything else keeps it, the thread and the outbox.
      if (error.code == 'unauthorized') forgetVisitor(true);
    },
    onClose(code, how) {
      flushing = false;
      state.connection = how.wasReady || how.opened ? 'connecting' : 'offline';
      state.reconnecting = state.reconnecting || how.opened;
      // 4001 "erased": start afresh as a new visitor. Abuse closes (1008, 1013)
      // keep the token: the hello reply says if it is dead.
      if (code == 4001) forgetVisitor(false);
      refresh();
    },
    onRefused() {
      link.stop();
      state.config = null;
      persist();
      if (host) host.remove();
      host = null;
      console.warn('[Frontdesk] Chat is off on this page: allow ' + location.host + ' for site ' + SITE +
        ' in the Frontdesk settings, or fix data-site.');
    },
  });

  setInterval(() => checkHours(state.config), 30000);

  // ---- extra modules, loaded when needed
  const modules = new Map, loading = new Map, core = {state, link, refresh, el, persist, flushOutbox, root: () => root};
  const attach = (name, ...args) => loadModule('attach').then((m) => m[name](...args));
  function loadModule(name) {
    if (!/^[a-z][a-z0-9-]{0,39}$/.test(name)) return Promise.reject(Error('[Frontdesk] bad module name'));
    if (!modules.has(name)) modules.set(name, new Promise((resolve, reject) => {
      const tag = el('script');
      loading.set(name, resolve);
      tag.src = new URL('widget/' + name + '.js', SCRIPT_URL).href;
      tag.nonce = script.nonce;
      tag.onload = tag.onerror = () => {
        tag.remove();
        if (!loading.delete(name)) return;
        modules.delete(name); // a later load() tries again
        reject(Error('[Frontdesk] module ' + name + ' did not load'));
      };
      document.head.appendChild(tag);
    }));
    return modules.get(name);
  }
  function track(c) {
    state.conversations[c.id] = c;
    if (c.id > state.conversationId) state.conversationId = c.id;
    if (c.status == 'resolved') loadModule('history').catch(noop);
  }
  function defineModule(name, factory) {
    const resolve = loading.get(name);
    loading.delete(name);
    if (resolve) resolve(Promise.resolve(core).then(factory));
  }

  // ---- the page: single-page-app navigation, network, visibility
  let lastUrl = location.href;
  function navigated() {
    setTimeout(() => { // let the app set its new title first
      if (location.href == lastUrl) return;
      const referrer = lastUrl;
      lastUrl = location.href;
      link.tell('page', {url: lastUrl.slice(0, 2048), title: document.title.slice(0, 500),
        referrer: referrer.slice(0, 2048)});
    }, 300);
  }
  ['pushState', 'replaceState'].forEach((method) => {
    const original = history[method];
    history[method] = function (...args) {
      const result = original.apply(this, args);
      navigated();
      return result;
    };
  });
  window.addEventListener('popstate', navigated);
  window.addEventListener('hashchange', navigated);
  window.addEventListener('online', () => link.wake());
  document.addEventListener('visibilitychange', () => {
    if (document.hidden) return;
    link.wake();
    if (state.panelOpen) state.unread = 0;
    refresh();
  });

  // ---- the public API: window.Frontdesk
  const api = window.Frontdesk = {
    version: '1',
    open: () => setPanelOpen(true, true),
    close: () => setPanelOpen(false, true),
    toggle: () => setPanelOpen(!state.panelOpen, true),
    /** {name, email} or, with identity verification, {user_id, user_hash, ts, name, email}. */
    identify(o) {
      o = o || {};
      if (o.user_id != null) {
        identity = {user_id: String(o.user_id), user_hash: o.user_hash && String(o.user_hash),
          ts: o.ts == null ? undefined : Number(o.ts), name: o.name, email: o.email, attributes: o.attributes};
        sendIdentity();
      } else {
        const fields = {};
        if (o.name) fields.name = String(o.name);
        if (o.email) fields.email = String(o.email);
        updateProfile(fields);
      }
    },
    on(name, fn) {
      (subscribers[name] = subscribers[name] || []).push(fn);
      return api;
    },
    off(name, fn) {
      subscribers[name] = (subscribers[name] || []).filter((f) => f != fn);
      return api;
    },
    setAttributes: (o) => loadModule('attributes').then((set) => set(o)),
    load: loadModule,
    define: defineModule,
  };
  // Calls queued before we loaded: window.Frontdesk = {q: [["open", []], ...]}.
  ((previous && previous.q) || []).forEach((call) => { if (api[call[0]]) api[call[0]](...(call[1] || [])); });

  mount();
  link.connect();
})();
