/*! Frontdesk chat widget. Plain JavaScript: no dependencies, no build step.
 * Embed: <script src="https://chat.example.com/widget.js" data-site="SITE_KEY" async></script>
 * Wire contract: docs/PROTOCOL.md, "Visitor endpoint". Visitor, agent and tenant
 * text is only ever set with textContent; the one innerHTML is a constant. */
(function (W, D) {
  'use strict';
  var old = W.Frontdesk;
  if (old && old.version) return; // the tag is on the page twice
  var me = D.currentScript || D.querySelector('script[data-site][src*="widget"]');
  if (!me || !me.src) return;
  var SITE = me.getAttribute('data-site') || '';
  var SRC = new URL(me.src, location.href);
  // http -> ws, https -> wss: the socket lives on the host that served us.
  var WS_URL = SRC.protocol.replace('http', 'ws') + '//' + SRC.host + '/v1/visitor?site=' + encodeURIComponent(SITE);
  var KEY = 'frontdesk:' + SITE;
  var LABEL = {online: 'Online', connecting: 'Connecting', offline: 'Offline'};
  var noop = function () {};

  // ---- persistence: token, cached config, open state and the outbox --------
  var st = {};
  try { st = JSON.parse(localStorage.getItem(KEY)) || {}; } catch (e) { /* private mode */ }
  function save() { try { localStorage.setItem(KEY, JSON.stringify(st)); } catch (e) { /* quota */ } }

  // ---- messages -------------------------------------------------------------
  // One item per message. Stored ones have id/seq; unsent ones only a client_id.
  var items = [], byId = {}, byCid = {};
  function add(it) { items.push(it); if (it.cid) byCid[it.cid] = it; return it; }
  (st.out || []).forEach(function (o) {
    add({cid: o.c, body: o.b, t: o.t, conv: o.v, kind: 'visitor', st: o.f ? 'failed' : 'pending'});
  });
  function saveOut() {
    st.out = items.filter(function (i) { return !i.id; }).map(function (i) {
      return {c: i.cid, b: i.body, t: i.t, v: i.conv, f: i.st == 'failed' ? 1 : 0};
    });
    save();
  }
  function uuid() {
    if (W.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16)), h = '';
    b[6] = b[6] & 15 | 64; b[8] = b[8] & 63 | 128;
    for (var i = 0; i < 16; i++) h += (b[i] + 256).toString(16).slice(1) + ([3, 5, 7, 9].indexOf(i) < 0 ? '' : '-');
    return h;
  }

  var subs = {};
  function emit(name, arg) {
    (subs[name] || []).slice().forEach(function (fn) {
      try { fn(arg); } catch (e) { setTimeout(function () { throw e; }); }
    });
  }

  // ---- the view ----------------------------------------------------------------
  var I = '<svg aria-hidden="true" focusable="false" viewBox="0 0 24 24" ';
  var STROKE = 'fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round" stroke-linejoin="round"';
  var CSS = ':host{all:initial}' +
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
    '.pd{flex:none;width:8px;height:8px;border-radius:50%;background:#9ca3af;box-shadow:0 0 0 2px var(--on)}.here .pd{background:#22c55e}' +
    '.cl{flex:none;width:36px;height:36px;padding:0;border:0;border-radius:10px;background:none;color:var(--on);display:grid;place-items:center}.cl:hover{background:rgba(127,127,127,.22)}.cl svg{width:20px;height:20px}' +
    '.m{flex:1;overflow-y:auto;overscroll-behavior:contain;padding:16px 14px 6px;background:#f6f7f9}.m:focus-visible{outline-offset:-2px}' +
    'ol{list-style:none;margin:0;padding:0}.r{display:flex;flex-direction:column;align-items:flex-start}.me{align-items:flex-end}' +
    '.who{margin:10px 0 4px 4px;font-size:12px;font-weight:600;color:#4b5563}' +
    '.bu{max-width:84%;margin-top:3px;padding:9px 13px;border:1px solid #e5e7eb;border-radius:18px 18px 18px 6px;background:#fff;white-space:pre-wrap;overflow-wrap:anywhere}' +
    '.me.s .bu{margin-top:10px}.me .bu{border-color:transparent;border-radius:18px 18px 6px 18px;background:var(--c);color:var(--on)}.bu a{color:inherit}' +
    '.sys{align-items:center;margin:10px 0;font-size:12.5px;color:#4b5563}.sys .bu{background:none;border:0;padding:0}' +
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
    '.of{background:#fef3c7;color:#78350f;border-color:#fde68a}.aw{background:#f8fafc}.aw p{color:#1f2937}.aok{margin-top:6px!important;font-weight:600}' +
    '.c{flex:none;display:flex;align-items:flex-end;gap:8px;padding:10px 10px 10px 16px;border-top:1px solid #e5e7eb;background:#fff}' +
    '.c:focus-within{box-shadow:inset 0 2px 0 var(--ring)}' +
    'textarea,textarea:focus-visible{flex:1;max-height:120px;padding:8px 0;border:0;outline:0;resize:none;background:none;font-size:15px;line-height:1.4}textarea::placeholder{color:#6b7280}' +
    '.sd{flex:none;width:38px;height:38px;padding:0;border:0;border-radius:50%;background:var(--c);color:var(--on);display:grid;place-items:center}.sd:disabled{opacity:.4;cursor:default}.sd svg{width:18px;height:18px}' +
    '.f{flex:none;display:flex;justify-content:space-between;padding:2px 16px 9px;background:#fff;font-size:11.5px;color:#5b6270}' +
    '.cs{display:inline-flex;align-items:center;gap:6px}.cs i{width:8px;height:8px;border-radius:50%;background:#eab308}' +
    '.cs[data-state=online] i{background:#16a34a}.cs[data-state=offline] i{background:#dc2626}' +
    '.pk{position:fixed;bottom:92px;right:20px;z-index:2147483000;width:300px;max-width:calc(100vw - 40px);border-radius:14px;background:#fff;box-shadow:0 10px 32px rgba(15,23,42,.2),0 1px 3px rgba(15,23,42,.1);animation:fdp .25s ease-out}.left .pk{right:auto;left:20px}' +
    '.pkb{display:block;width:100%;padding:14px 38px 14px 16px;border:0;border-radius:14px;background:none;text-align:left}' +
    '.pkn{display:block;margin-bottom:3px;font-size:12.5px;font-weight:650;color:#4b5563}.pkt{display:-webkit-box;-webkit-line-clamp:3;-webkit-box-orient:vertical;overflow:hidden;font-size:14px}' +
    '.pkx{position:absolute;top:7px;right:7px;width:28px;height:28px;padding:0;border:0;border-radius:8px;background:none;color:#4b5563;display:grid;place-items:center}.pkx:hover{background:#f3f4f6}.pkx svg{width:14px;height:14px}' +
    '@keyframes fdp{from{opacity:0;transform:translateY(8px)}}.open .pk{display:none}' +
    '@media print{.fd{display:none}}' +
    '@media (max-width:480px){textarea,input{font-size:16px}.fd .f{padding-bottom:max(9px,env(safe-area-inset-bottom))}.fd .p{inset:0;width:100%;height:100%;border-radius:0}.fd .pk{right:16px;bottom:88px}.fd.left .pk{left:16px}.open .l{display:none}.fd .l{bottom:16px;right:16px}.fd.left .l{right:auto;left:16px}}' +
    '@media (prefers-reduced-motion:reduce){.fd *{transition:none!important;animation:none!important}}';
  var TPL = '<div class="fd">' +
    '<button class="l" type="button" aria-expanded="false" aria-controls="p">' +
      I + 'class="i" fill="currentColor"><path d="M12 3C6.5 3 2 6.9 2 11.6c0 2.5 1.3 4.8 3.4 6.3L4.6 21.4l4.1-2c1 .3 2.2.5 3.3.5 5.5 0 10-3.9 10-8.7S17.5 3 12 3z"/></svg>' +
      I + 'class="x" ' + STROKE + '><path d="M6 9l6 6 6-6"/></svg><span class="b" aria-hidden="true" hidden></span></button>' +
    '<div class="pk" hidden><button class="pkb" type="button"><span class="pkn"></span><span class="pkt"></span></button>' +
      '<button class="pkx" type="button" aria-label="Dismiss">' + I + STROKE + '><path d="M6 6l12 12M18 6L6 18"/></svg></button></div>' +
    '<div class="p" id="p" role="dialog" aria-labelledby="t">' +
      '<div class="h"><div class="av" aria-hidden="true"></div><div class="tt"><h2 id="t"></h2><p><span class="pd"></span><span class="ps"></span></p></div>' +
        '<button class="cl" type="button" aria-label="Close chat">' + I + STROKE + '><path d="M6 6l12 12M18 6L6 18"/></svg></button></div>' +
      '<div class="m" role="region" aria-label="Conversation" tabindex="0">' +
        '<button class="more" type="button" hidden>Show earlier messages</button>' +
        '<div class="r gr"><span class="who"></span><div class="bu"></div></div>' +
        '<ol aria-label="Messages"></ol>' +
        '<form class="pf" hidden><h3>Before we start</h3><p>Tell us who you are so we can follow up.</p><div class="pfs"></div><button class="bt" type="submit">Start chat</button></form>' +
        '<div class="ty" hidden><span class="dots" aria-hidden="true"><i></i><i></i><i></i></span><span class="tyl"></span></div></div>' +
      '<div class="nb of" hidden><p>You\u2019re offline. Your messages will be sent when the connection is back.</p></div>' +
      '<div class="nb aw" hidden><p class="awm"></p><form class="ae"><input type="email" required autocomplete="email" aria-label="Your email address" placeholder="you@example.com"><button class="bt" type="submit">Save</button></form><p class="aok" hidden></p></div>' +
      '<form class="c" hidden><textarea rows="1" maxlength="10000" aria-label="Message" placeholder="Write a message\u2026"></textarea>' +
        '<button class="sd" type="submit" aria-label="Send message" disabled>' + I + STROKE + '><path d="M12 19V5M5 12l7-7 7 7"/></svg></button></form>' +
      '<div class="f"><span class="cs" role="status" data-state="connecting"><i></i><span class="csl">Connecting</span></span><span>Powered by Frontdesk</span></div>' +
      '<div class="sr" aria-live="polite"></div>' +
    '</div></div>';

  var host, root, fd, cfg = st.cfg || null, isOpen = false, unread = 0, visitor = {}, seenSeq = 0, mySeen = 0;
  var agentsOn = true, inHours = true, hasMore = false, status = 'connecting', audio, tyT;
  function q(s) { return root.querySelector(s); }
  function el(tag, cls, text) {
    var e = D.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }

  function mount() {
    if (host || !cfg) return;
    if (!D.body) { D.addEventListener('DOMContentLoaded', mount); return; }
    host = D.createElement('frontdesk-chat');
    root = host.attachShadow({mode: 'open'});
    root.innerHTML = TPL; // constant markup only; all variable text goes through textContent
    // A constructed stylesheet is not an inline <style>, so a host page's CSP
    // without 'unsafe-inline' does not strip our styles.
    try {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      root.adoptedStyleSheets = [sheet];
    } catch (e) { root.prepend(el('style', 0, CSS)); }
    fd = q('.fd');
    var ta = q('textarea'), sendBtn = q('.sd');
    q('.l').onclick = function () { setOpen(!isOpen, true); };
    q('.cl').onclick = function () { setOpen(false, true); };
    q('.pkb').onclick = function () { setOpen(true, true); };
    q('.pkx').onclick = function () { q('.pk').hidden = true; q('.l').focus(); };
    q('.p').addEventListener('keydown', function (e) {
      if (e.key == 'Escape') { e.preventDefault(); setOpen(false, true); }
      // Full screen on a phone, the panel is modal: Tab cycles inside it.
      if (e.key == 'Tab' && W.matchMedia('(max-width:480px)').matches) {
        var f = [].filter.call(q('.p').querySelectorAll('button,textarea,input,[tabindex]'), function (x) {
          return !x.disabled && x.offsetParent;
        }), a = root.activeElement, end = e.shiftKey ? f[0] : f[f.length - 1];
        if (a == end) { e.preventDefault(); (e.shiftKey ? f[f.length - 1] : f[0]).focus(); }
      }
    });
    root.addEventListener('pointerdown', unlockAudio);
    root.addEventListener('keydown', unlockAudio);
    function submit(e) {
      if (e) e.preventDefault();
      send(ta.value);
      ta.value = '';
      grow();
    }
    q('.c').onsubmit = submit;
    ta.addEventListener('keydown', function (e) {
      // Enter sends, Shift+Enter is a newline; never interrupt an IME composition.
      if (e.key == 'Enter' && !e.shiftKey && !e.isComposing) submit(e);
    });
    ta.addEventListener('input', function () { grow(); typing(); });
    function grow() {
      ta.style.height = 'auto';
      ta.style.height = Math.min(ta.scrollHeight, 120) + 'px';
      sendBtn.disabled = !ta.value.trim();
    }
    q('.more').onclick = function () {
      var low = 0;
      items.forEach(function (i) { if (i.id && i.conv == st.conv && (!low || i.seq < low)) low = i.seq; });
      if (low > 1) loadHistory(st.conv, low);
    };
    q('.pf').onsubmit = function (e) {
      e.preventDefault();
      var p = {};
      [].forEach.call(this.querySelectorAll('input'), function (i) { if (i.value.trim()) p[i.name] = i.value.trim(); });
      st.pre = 1;
      profile(p);
      render();
      ta.focus();
    };
    q('.ae').onsubmit = function (e) {
      e.preventDefault();
      profile({email: this.querySelector('input').value.trim()});
      presence();
    };
    (D.body).appendChild(host);
    apply(cfg);
    setStatus(status);
    setUnread(unread);
    if (st.open) setOpen(true, false);
    render(true);
  }

  function lum(h) {
    return [1, 3, 5].reduce(function (s, i, k) {
      var v = parseInt(h.substr(i, 2), 16) / 255;
      return s + [0.2126, 0.7152, 0.0722][k] * (v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4));
    }, 0);
  }
  function ratio(a, b) { var x = lum(a) + 0.05, y = lum(b) + 0.05; return x > y ? x / y : y / x; }

  function apply(c) {
    cfg = c;
    st.cfg = c;
    save();
    if (!host) return mount();
    // The tenant picks the colour; we pick the text colour that contrasts with it best.
    var col = /^#[0-9a-f]{6}$/i.test(c.color) ? c.color : '#2563eb', dark = '#111827';
    fd.style.setProperty('--c', col);
    fd.style.setProperty('--on', ratio(col, '#ffffff') >= ratio(col, dark) ? '#fff' : dark);
    fd.style.setProperty('--ring', ratio(col, '#ffffff') >= 3 ? col : dark);
    fd.classList.toggle('left', c.position == 'left');
    var name = c.business_name || 'Chat';
    q('#t').textContent = name;
    q('.av').textContent = name.trim().charAt(0).toUpperCase();
    q('.gr .who').textContent = name;
    q('.gr .bu').textContent = c.greeting || '';
    q('.gr').hidden = !c.greeting;
    q('.awm').textContent = c.away_message || 'We\u2019re away right now. Leave a message and your email, and we\u2019ll get back to you.';
    setUnread(unread);
    presence();
    render();
  }

  function presence() {
    if (!host) return;
    // Presence is only known while connected; otherwise say so rather than guess.
    var away = !agentsOn || !inHours, live = status == 'online';
    q('.h').classList.toggle('here', live && !away);
    q('.ps').textContent = !live ? (helloed ? 'Reconnecting\u2026' : 'Connecting\u2026') : away ? 'Away right now' : 'Online \u00b7 we reply in a few minutes';
    q('.aw').hidden = !away;
    q('.ae').hidden = !!visitor.email || needPre(); // the pre-chat form asks already
    q('.aok').hidden = !visitor.email;
    q('.aok').textContent = 'We\u2019ll reply to ' + visitor.email + '.';
  }

  function setStatus(s) {
    var changed = s != status;
    status = s;
    if (!host) return;
    q('.cs').setAttribute('data-state', s);
    q('.csl').textContent = LABEL[s];
    q('.of').hidden = s != 'offline';
    presence();
    if (changed) render();
  }

  function setUnread(n) {
    unread = n;
    if (!host) return;
    var b = q('.b');
    b.hidden = !n;
    b.textContent = n > 9 ? '9+' : n;
    q('.l').setAttribute('aria-label', ((cfg && cfg.launcher_label) || 'Chat with us') +
      (n ? ', ' + n + ' unread message' + (n > 1 ? 's' : '') : ''));
  }

  function setOpen(v, focus) {
    isOpen = v;
    st.open = v;
    save();
    if (!host) return;
    var inside = !!root.activeElement;
    fd.classList.toggle('open', v);
    q('.l').setAttribute('aria-expanded', v);
    if (v) {
      q('.pk').hidden = true;
      setUnread(0);
      render(true);
      if (focus) (needPre() ? q('.pf input') : q('textarea')).focus();
    } else {
      typingStop();
      if (focus && inside) q('.l').focus();
    }
    emit(v ? 'open' : 'close');
  }

  function needPre() {
    var p = cfg && cfg.prechat;
    if (!p || !p.enabled || st.pre) return false;
    if (items.some(function (i) { return i.kind == 'visitor'; })) return false;
    return (p.fields || []).some(function (f) { return !visitor[f.name]; });
  }

  function preForm() {
    var box = q('.pfs'), sig = JSON.stringify(cfg.prechat.fields);
    if (box.sig == sig) return;
    box.sig = sig;
    box.textContent = '';
    cfg.prechat.fields.forEach(function (f) {
      if (f.name != 'name' && f.name != 'email') return;
      var lab = el('label', 0, f.name == 'name' ? 'Name' : 'Email'), i = el('input');
      if (!f.required) lab.firstChild.textContent += ' (optional)';
      i.name = i.autocomplete = f.name;
      i.type = f.name == 'email' ? 'email' : 'text';
      i.required = !!f.required;
      i.value = visitor[f.name] || '';
      lab.appendChild(i);
      box.appendChild(lab);
    });
  }

  // Text to nodes. Links are http(s) only and open without an opener or referrer.
  var URL_RE = /\bhttps?:\/\/[^\s<>"']+/gi;
  function linkify(node, text) {
    var i = 0, m, u, a;
    URL_RE.lastIndex = 0;
    while ((m = URL_RE.exec(text))) {
      u = m[0].replace(/[.,;:!?)\]]+$/, '');
      node.appendChild(D.createTextNode(text.slice(i, m.index)));
      a = el('a', 0, u);
      try {
        a.href = new URL(u).href;
        a.target = '_blank';
        a.rel = 'noopener noreferrer';
      } catch (e) { a = D.createTextNode(u); }
      node.appendChild(a);
      URL_RE.lastIndex = i = m.index + u.length;
    }
    node.appendChild(D.createTextNode(text.slice(i)));
  }

  // 14:05 today; Mon 14:05 this week; 3 Dec 14:05 before that.
  function time(t) {
    var d = new Date(t), age = (new Date().setHours(24, 0, 0, 0) - d) / 864e5, o = {hour: 'numeric', minute: '2-digit'};
    if (age > 1) o.weekday = 'short';
    if (age > 6) { delete o.weekday; o.day = 'numeric'; o.month = 'short'; }
    try { return d.toLocaleString([], o); } catch (e) { return ''; }
  }

  function order(a, b) {
    if (a.id && b.id) return a.conv - b.conv || a.seq - b.seq;
    return a.id ? -1 : b.id ? 1 : a.t - b.t;
  }

  function row(it, start, end, lastMine) {
    var mine = it.kind == 'visitor', sys = it.kind == 'system', li = it.el || (it.el = el('li'));
    var seen = lastMine && it.seq <= seenSeq, sig = [it.st, it.body, start, end, seen, it.st == 'pending' && status, it.name].join('\n');
    if (li.sig == sig) return li;
    li.sig = sig;
    li.className = 'r ' + (mine ? 'me ' : sys ? 'sys ' : '') + (start ? 's ' : '') + it.st;
    li.setAttribute('data-author', it.kind);
    li.setAttribute('data-status', it.st);
    li.textContent = '';
    if (!mine && !sys && start) li.appendChild(el('span', 'who', it.name || cfg.business_name));
    var bu = el('div', 'bu');
    linkify(bu, it.body);
    li.appendChild(bu);
    var mt = el('div', 'mt'), rt;
    if (it.st == 'failed') {
      mt.appendChild(el('span', 0, 'Not sent'));
      rt = el('button', 'rt', 'Retry');
      rt.type = 'button';
      rt.setAttribute('aria-label', 'Retry sending message');
      rt.onclick = function () { retry(it); };
      mt.appendChild(rt);
    } else if (it.st == 'pending') {
      mt.textContent = status == 'online' ? 'Sending\u2026' : 'Waiting for connection\u2026';
    } else if (end && !sys) {
      mt.textContent = time(it.t) + (mine ? (seen ? ' \u00b7 Seen' : ' \u00b7 Sent') : '');
    } else mt = 0;
    if (mt) li.appendChild(mt);
    return li;
  }

  // Consecutive messages from the same author form one group (one name, one time).
  function same(a, b) { return a && b && a.kind == b.kind && (a.kind == 'visitor' || a.name == b.name); }

  function render(toBottom) {
    if (!host) return;
    var box = q('.m'), ol = q('ol'), ch = ol.children, pre = needPre();
    var near = box.scrollHeight - box.scrollTop - box.clientHeight < 60;
    var list = items.slice().sort(order), lastMine = null;
    list.forEach(function (it) { if (it.kind == 'visitor' && it.id) lastMine = it; });
    list.forEach(function (it, i) {
      var prev = list[i - 1], next = list[i + 1];
      var start = !same(prev, it), end = !same(it, next) || next.t - it.t > 120000;
      var li = row(it, start, end, it == lastMine);
      if (ch[i] !== li) ol.insertBefore(li, ch[i] || null);
    });
    while (ch.length > list.length) ol.removeChild(ol.lastChild);
    if (pre) preForm();
    q('.pf').hidden = !pre;
    q('.c').hidden = pre;
    q('.more').hidden = !hasMore;
    presence();
    if (toBottom || near) box.scrollTop = box.scrollHeight;
    markSeen();
  }

  function peek(it) {
    if (!host) return;
    q('.pkn').textContent = it.name || cfg.business_name || '';
    q('.pkt').textContent = it.body;
    q('.pk').hidden = false;
  }

  // Business hours, as the server computes them (domain.within_business_hours),
  // so a page left open switches to away at closing time without a reconnect.
  function hoursOpen(c) {
    var h = c && c.business_hours, p = {};
    if (!h || !h.enabled) return true;
    try {
      new Intl.DateTimeFormat('en-US', {timeZone: h.timezone || 'UTC', weekday: 'short', hour: '2-digit',
        minute: '2-digit', hourCycle: 'h23'}).formatToParts(new Date()).forEach(function (x) { p[x.type] = x.value; });
    } catch (e) { return inHours; }
    var now = p.hour + ':' + p.minute;
    return ((h.days || {})[p.weekday.slice(0, 3).toLowerCase()] || []).some(function (r) { return r[0] <= now && now < r[1]; });
  }
  setInterval(function () { if (cfg && hoursOpen(cfg) != inHours) { inHours = !inHours; presence(); } }, 30000);

  function announce(text) {
    if (!host) return;
    var sr = q('.sr');
    sr.textContent = '';
    setTimeout(function () { sr.textContent = text.slice(0, 300); }, 60);
  }

  function unlockAudio() {
    var A = W.AudioContext || W.webkitAudioContext;
    if (!audio && A) try { audio = new A(); } catch (e) { /* no audio */ }
  }
  function ding() {
    if (!audio || (cfg && cfg.sound === false)) return;
    try {
      var t = audio.currentTime, o = audio.createOscillator(), g = audio.createGain();
      o.frequency.setValueAtTime(880, t);
      o.frequency.setValueAtTime(1320, t + 0.09);
      g.gain.setValueAtTime(0.0001, t);
      g.gain.exponentialRampToValueAtTime(0.12, t + 0.02);
      g.gain.exponentialRampToValueAtTime(0.0001, t + 0.35);
      o.connect(g);
      g.connect(audio.destination);
      o.start(t);
      o.stop(t + 0.4);
    } catch (e) { /* no audio */ }
  }

  // ---- message state changes -----------------------------------------------------
  function upsert(m, live) {
    var it = byId[m.id] || (m.client_id && byCid[m.client_id]), fresh = !it || !it.id;
    it = it || add({});
    it.id = m.id;
    it.conv = m.conversation_id;
    it.seq = m.seq;
    it.kind = m.author_kind;
    it.name = m.author_name;
    it.body = m.body;
    it.t = m.created_at;
    it.st = 'sent';
    if (m.client_id) byCid[it.cid = m.client_id] = it;
    byId[m.id] = it;
    if (m.conversation_id > (st.conv || 0)) st.conv = m.conversation_id;
    if (!fresh || !live) return;
    emit('message', {id: m.id, conversation_id: m.conversation_id, seq: m.seq, author_kind: m.author_kind,
      author_name: m.author_name, body: m.body, created_at: m.created_at});
    if (it.kind == 'visitor') return;
    typingOff();
    announce((it.name || (cfg && cfg.business_name) || 'Agent') + ': ' + it.body);
    if (!isOpen || D.hidden) { setUnread(unread + 1); ding(); }
    if (!isOpen) peek(it);
  }

  function send(text) {
    text = text.replace(/^\s+|\s+$/g, '');
    if (!text) return;
    add({cid: uuid(), body: text, t: Date.now(), conv: st.conv, kind: 'visitor', st: 'pending'});
    saveOut();
    typingStop();
    render(true);
    flush();
  }

  function retry(it) {
    it.st = 'pending';
    saveOut();
    render(true);
    q('textarea').focus();
    flush();
  }

  // Send the outbox one message at a time, in order. A message that got no reply
  // is resent with the same client_id, so the server stores it exactly once.
  var flushing = false;
  function flush() {
    var it = items.filter(function (i) { return i.st == 'pending'; }).sort(order)[0];
    if (flushing || !it || status != 'online') return;
    flushing = true;
    req('message.send', {client_id: it.cid, body: it.body, conversation_id: it.conv || undefined}).then(function (r) {
      flushing = false;
      var m = r.message || {};
      upsert({id: m.id, conversation_id: r.conversation_id, seq: r.seq, author_kind: 'visitor', author_name: m.author_name,
        client_id: it.cid, body: m.body || it.body, created_at: m.created_at || r.server_time}, true);
      saveOut();
      render();
      flush();
    }, function (e) {
      flushing = false;
      if (e.code == 'rate_limited') setTimeout(flush, 1500 + Math.random() * 1500);
      else if (e.code != 'offline') {
        it.st = 'failed';
        saveOut();
        render();
        console.warn('[Frontdesk] message not sent: ' + e.code + ' ' + (e.message || ''));
        flush();
      }
    });
  }

  function profile(p) {
    if (!p.name && !p.email) return;
    if (p.name) visitor.name = p.name;
    if (p.email) visitor.email = p.email;
    st.prof = Object.assign(st.prof || {}, p);
    save();
    sendProfile();
  }
  function sendProfile() {
    var p = st.prof;
    if (!p || status != 'online') return Promise.resolve();
    return req('profile.update', p).then(function (r) {
      if (st.prof == p) delete st.prof;
      save();
      visitor = r.visitor || visitor;
    }, noop);
  }

  var ident = null;
  function sendIdent() {
    if (!ident || status != 'online') return Promise.resolve();
    return req('identify', ident).then(function (r) { visitor = r.visitor || visitor; render(); }, function (e) {
      console.warn('[Frontdesk] identify refused: ' + (e.message || e.code));
    });
  }

  var tySent = 0, tyStop;
  function typing() {
    if (!st.conv || status != 'online') return;
    clearTimeout(tyStop);
    if (!q('textarea').value.trim()) return typingStop();
    if (Date.now() - tySent > 3000) { // throttled: at most one frame per 3 s
      tySent = Date.now();
      tell('typing', {conversation_id: st.conv, is_typing: true});
    }
    tyStop = setTimeout(typingStop, 5000);
  }
  function typingStop() {
    clearTimeout(tyStop);
    if (tySent) tell('typing', {conversation_id: st.conv, is_typing: false});
    tySent = 0;
  }
  function typingOn(name) {
    if (!host) return;
    var box = q('.m'), near = box.scrollHeight - box.scrollTop - box.clientHeight < 60;
    q('.tyl').textContent = (name || 'An agent') + ' is typing\u2026';
    q('.ty').hidden = false;
    if (near) box.scrollTop = box.scrollHeight;
    clearTimeout(tyT);
    tyT = setTimeout(typingOff, 8000);
  }
  function typingOff() { if (host) q('.ty').hidden = true; }

  function markSeen() {
    if (!isOpen || D.hidden || status != 'online' || !st.conv) return;
    var top = 0;
    items.forEach(function (i) { if (i.conv == st.conv && i.seq > top) top = i.seq; });
    if (top > mySeen) {
      mySeen = top;
      tell('seen', {conversation_id: st.conv, seq: top});
    }
  }

  function loadHistory(cid, before) {
    var box = host && q('.m'), h = box ? box.scrollHeight : 0;
    return req('history', {conversation_id: cid, before_seq: before, limit: 50}).then(function (r) {
      (r.messages || []).forEach(function (m) { upsert(m, false); });
      hasMore = r.has_more;
      render(!before);
      if (before && box) box.scrollTop += box.scrollHeight - h;
    }, noop);
  }

  // ---- the connection -------------------------------------------------------------
  var ws = null, waits = {}, refN = 0, attempt = 0, refusals = 0, retryT, pingT, dead = false, helloed = false;
  var cursor = 0, epoch = null;

  function req(type, f, ms) {
    return new Promise(function (ok, no) {
      var s = ws, ref = String(++refN), frame = Object.assign({type: type, ref: ref}, f);
      if (!s || s.readyState != 1) return no({code: 'offline'});
      waits[ref] = {ok: ok, no: no, t: setTimeout(function () {
        delete waits[ref];
        no({code: 'offline'});
        s.close(); // no answer: assume the socket is dead and start over
      }, ms || 15000)};
      s.send(JSON.stringify(frame));
    });
  }
  function tell(type, f) {
    if (ws && ws.readyState == 1) ws.send(JSON.stringify(Object.assign({type: type}, f)));
  }

  function meta() {
    var tz = '';
    try { tz = Intl.DateTimeFormat().resolvedOptions().timeZone || ''; } catch (e) { /* old browser */ }
    return {url: location.href.slice(0, 2048), title: D.title.slice(0, 500), referrer: D.referrer.slice(0, 2048),
      language: navigator.language || '', timezone: tz, user_agent: navigator.userAgent.slice(0, 512)};
  }

  function connect() {
    if (dead || ws) return;
    clearTimeout(retryT);
    var s, opened = false;
    try { s = ws = new WebSocket(WS_URL); } catch (e) { return giveUp(); }
    s.onopen = function () { opened = true; hello(s); };
    s.onmessage = function (e) { if (s == ws) frame(e.data); };
    s.onclose = function (e) {
      if (s != ws) return;
      var was = status == 'online';
      ws = null;
      clearInterval(pingT);
      for (var r in waits) { clearTimeout(waits[r].t); waits[r].no({code: 'offline'}); }
      waits = {};
      flushing = false;
      setStatus(was ? 'connecting' : 'offline');
      if (e.code == 1008) delete st.token; // our token was revoked: start as a new visitor
      if (was) attempt = 0;
      if (opened) schedule(e.code == 1013 ? 8 : 1); else probe();
    };
  }

  // Jittered exponential backoff: 0.4 s, 0.8 s, 1.6 s ... capped at 10 s (a
  // chat should come back soon after the server does); each delay is drawn from
  // its upper half, so a restarted server is not hit by every widget at once.
  function schedule(k) {
    var d = Math.min(10000 * k, 400 * Math.pow(2, attempt++) * k);
    retryT = setTimeout(connect, d / 2 + Math.random() * d / 2);
  }

  // The socket never opened. If the server answers plain HTTP, it refused us
  // (origin not allowed or unknown site key): stop after three refusals.
  function probe() {
    fetch(SRC.href, {mode: 'no-cors', cache: 'no-store'}).then(function () {
      if (++refusals >= 3) giveUp(); else schedule(1);
    }, function () { refusals = 0; schedule(1); });
  }

  function giveUp() {
    dead = true;
    clearTimeout(retryT);
    delete st.cfg;
    save();
    if (host) host.remove();
    console.warn('[Frontdesk] Chat is off on this page: the server refused ' + location.origin + ' for site "' + SITE +
      '". Add ' + location.host + ' to the allowed domains in the Frontdesk settings, or check data-site.');
  }

  function hello(s) {
    var f = {token: st.token, meta: meta()}, replay = helloed && epoch;
    if (replay) { f.since = cursor; f.epoch = epoch; }
    req('hello', f).then(function (r) { if (s == ws) welcome(r, replay); }, function (e) {
      if (s != ws) return;
      if (e.code == 'unauthorized' || e.code == 'invalid') delete st.token;
      s.close();
    });
  }

  function welcome(r, replay) {
    var vid = r.visitor && r.visitor.id;
    if (st.token && st.token != r.token || st.vid && st.vid != vid) { // a new visitor: forget the old one's thread
      items = items.filter(function (i) { return !i.id; });
      items.forEach(function (i) { i.conv = null; });
      byId = {};
      st.conv = null;
      seenSeq = mySeen = 0;
      hasMore = false;
    }
    st.token = r.token;
    st.vid = vid;
    visitor = r.visitor || {};
    epoch = r.epoch;
    if (!replay || r.reset_required) cursor = r.last_event_id || 0;
    agentsOn = r.agents_online !== false;
    inHours = r.within_hours !== false;
    var cur = null, n = 0;
    (r.conversations || []).forEach(function (c) {
      n += c.unread_visitor || 0;
      var open = c.status != 'resolved', curOpen = cur && cur.status != 'resolved';
      if (!cur || open && !curOpen || open == curOpen && c.id > cur.id) cur = c;
    });
    if (cur) st.conv = cur.id;
    helloed = true;
    attempt = refusals = 0;
    apply(r.config || cfg || {});
    setUnread(isOpen ? 0 : n);
    setStatus('online');
    presence();
    if (cur && (!replay || r.reset_required)) loadHistory(cur.id);
    clearInterval(pingT);
    pingT = setInterval(function () { req('ping', {}, 10000).catch(noop); }, 25000);
    sendIdent().then(sendProfile).then(flush);
    render();
    emit('ready');
  }

  function frame(text) {
    var f, w;
    try { f = JSON.parse(text); } catch (e) { return; }
    if (f.type == 'reply' || f.type == 'error') {
      w = waits[f.ref];
      if (w) {
        delete waits[f.ref];
        clearTimeout(w.t);
        (f.type == 'reply' ? w.ok : w.no)(f);
      } else if (f.type == 'error') console.warn('[Frontdesk] ' + f.code + ': ' + f.message);
      return;
    }
    if (f.type != 'event') return;
    var d = f.data || {};
    if (f.event_id > cursor) cursor = f.event_id;
    if (f.kind == 'message.created') {
      if (!d.conversation_id) d.conversation_id = f.conversation_id;
      upsert(d, true);
      saveOut();
      render();
    } else if (f.kind == 'typing') {
      if (d.is_typing) typingOn(d.name); else typingOff();
    } else if (f.kind == 'seen') {
      if (d.side == 'agent' && d.seq > seenSeq) { seenSeq = d.seq; render(); }
    } else if (f.kind == 'presence') {
      agentsOn = !!d.agents_online;
      presence();
    } else if (f.kind == 'config.updated') {
      if ('agents_online' in d) agentsOn = d.agents_online;
      apply(Object.assign({}, cfg, d));
      inHours = 'within_hours' in d ? d.within_hours : hoursOpen(cfg);
      presence();
    } else if (f.kind == 'conversation.updated') {
      if (d.id > (st.conv || 0)) st.conv = d.id;
    }
  }

  // ---- page changes in single-page apps ----------------------------------------------
  var lastUrl = location.href;
  function nav() {
    setTimeout(function () { // let the app set its new title first
      if (location.href == lastUrl) return;
      var ref = lastUrl;
      lastUrl = location.href;
      tell('page', {url: lastUrl.slice(0, 2048), title: D.title.slice(0, 500), referrer: ref.slice(0, 2048)});
    }, 300);
  }
  ['pushState', 'replaceState'].forEach(function (k) {
    var orig = history[k];
    history[k] = function () { var r = orig.apply(this, arguments); nav(); return r; };
  });
  W.addEventListener('popstate', nav);
  W.addEventListener('hashchange', nav);
  W.addEventListener('online', function () { if (!ws && !dead) { attempt = 0; connect(); } });
  D.addEventListener('visibilitychange', function () {
    if (D.hidden) return;
    if (!ws && !dead) { attempt = 0; connect(); }
    if (isOpen) { setUnread(0); markSeen(); }
  });

  // ---- the public API: window.Frontdesk ------------------------------------------------
  var api = W.Frontdesk = {
    version: '1',
    open: function () { setOpen(true, true); },
    close: function () { setOpen(false, true); },
    toggle: function () { setOpen(!isOpen, true); },
    /** {name, email} or, with identity verification, {user_id, user_hash, ts, name, email}. */
    identify: function (o) {
      o = o || {};
      if (o.user_id != null) {
        ident = {user_id: String(o.user_id), user_hash: o.user_hash && String(o.user_hash),
          ts: o.ts == null ? undefined : Number(o.ts), name: o.name, email: o.email};
        sendIdent();
      } else {
        var p = {};
        if (o.name) p.name = String(o.name);
        if (o.email) p.email = String(o.email);
        profile(p);
      }
    },
    on: function (name, fn) { (subs[name] = subs[name] || []).push(fn); return api; },
    off: function (name, fn) {
      subs[name] = (subs[name] || []).filter(function (f) { return f != fn; });
      return api;
    }
  };
  // Calls queued by a snippet before we loaded: window.Frontdesk = {q: [["open", []], ...]}.
  ((old && old.q) || []).forEach(function (c) { if (api[c[0]]) api[c[0]].apply(api, c[1] || []); });

  mount();
  connect();
})(window, document);
