// The pbx agent desktop: a softphone (JsSIP over SIP-over-WebSocket,
// WebRTC media), the agent's ACD state and a screen-pop panel, both from
// /api/v1 with the token `POST /desktop/login` hands out for the agent's
// SIP credentials. No framework; one state object, DOM updates by id.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const st = {
    cfg: null, token: null, user: null, agent: null, ua: null, session: null,
    statsTimer: null, clockTimer: null, agentSince: null, answeredAt: 0, stream: null, lastEventId: null,
  };

  // ---- server settings and login -------------------------------------------------
  async function loadConfig() {
    const r = await fetch('config.json');
    st.cfg = await r.json();
    $('ws-url').value = defaultWsUrl();
  }

  function defaultWsUrl() {
    const secure = location.protocol === 'https:';
    const pick = (secure ? st.cfg.wss : st.cfg.ws)[0] || st.cfg.wss[0] || st.cfg.ws[0];
    if (!pick) return '';
    let host = pick.host;
    if (host === '0.0.0.0' || host === '::') host = location.hostname;
    if (host.includes(':')) host = `[${host}]`;
    return `${pick.scheme}://${host}:${pick.port}`;
  }

  async function login(ev) {
    ev.preventDefault();
    $('login-error').textContent = '';
    const user = $('user').value.trim();
    const password = $('password').value;
    const wsUrl = $('ws-url').value.trim();
    if (!wsUrl) {
      $('login-error').textContent =
        'pbx has no SIP WebSocket listener: add "ws:IP:PORT" to [server] listen (or a wss [[server.tls]])';
      return;
    }
    let r;
    try {
      r = await fetch('login', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user, password }),
      });
    } catch (e) {
      $('login-error').textContent = `pbx is not reachable: ${e.message}`;
      return;
    }
    const body = await r.json().catch(() => ({}));
    if (!r.ok) {
      $('login-error').textContent = body.message || `login failed (HTTP ${r.status})`;
      return;
    }
    st.token = body.token;
    st.user = body.user;
    st.agent = body.agent;
    $('password').value = '';
    $('login-view').hidden = true;
    $('desk-view').hidden = false;
    $('logout').hidden = false;
    $('who').textContent = `${st.user}@${st.cfg.domain}` + (st.agent ? ' · agent' : '');
    $('agent').hidden = !st.agent;
    startPhone(wsUrl, user, password);
    if (st.agent) { refreshAgent(); setInterval(agentTick, 1000); }
    streamEvents();
  }

  async function logout() {
    if (st.session) st.session.terminate();
    if (st.ua) st.ua.stop();
    if (st.stream) st.stream.abort();
    const token = st.token;
    st.token = null;
    st.ua = null;
    if (token) {
      await fetch('logout', { method: 'POST', headers: { authorization: `Bearer ${token}` } }).catch(() => {});
    }
    $('desk-view').hidden = true;
    $('logout').hidden = true;
    $('login-view').hidden = false;
    $('who').textContent = '';
    setReg('not registered');
  }

  // ---- the softphone ----------------------------------------------------------------
  function setReg(text) { $('reg-state').textContent = text; }

  function startPhone(wsUrl, user, password) {
    const socket = new JsSIP.WebSocketInterface(wsUrl);
    const ua = new JsSIP.UA({
      sockets: [socket],
      uri: `sip:${user}@${st.cfg.domain}`,
      authorization_user: user,
      password,
      register: true,
      register_expires: 300,
      session_timers: false,
      user_agent: 'pbx-desktop',
    });
    ua.on('connecting', () => setReg('connecting'));
    ua.on('disconnected', () => setReg('disconnected (retrying)'));
    ua.on('registered', () => setReg('registered'));
    ua.on('unregistered', () => setReg('not registered'));
    ua.on('registrationFailed', (e) => setReg(`registration failed: ${e.cause}`));
    ua.on('newRTCSession', (e) => {
      if (st.session) {
        if (e.originator === 'remote') e.session.terminate({ status_code: 486, reason_phrase: 'Busy Here' });
        return;
      }
      bindSession(e.session, e.originator);
    });
    st.ua = ua;
    ua.start();
  }

  function peerOf(s) {
    const id = s.remote_identity;
    const user = id && id.uri ? id.uri.user : '?';
    return id && id.display_name && id.display_name !== user ? `${id.display_name} <${user}>` : user;
  }

  function setCall(state) {
    const el = $('call-state');
    el.textContent = state;
    el.className = state === 'ringing' ? 'ringing' : '';
    const live = st.session !== null;
    const up = state === 'connected' || state === 'on hold';
    $('answer').disabled = state !== 'ringing';
    $('hangup').disabled = !live;
    $('hold').disabled = !up;
    $('mute').disabled = !up;
    $('transfer').disabled = !up;
    $('call').disabled = live;
  }

  function bindSession(s, originator) {
    st.session = s;
    $('call-peer').textContent = peerOf(s);
    setCall(originator === 'remote' ? 'ringing' : 'calling');
    if (originator === 'remote') fillPopFromSip(s);
    s.on('peerconnection', (e) => attachMedia(e.peerconnection));
    if (s.connection) attachMedia(s.connection);
    s.on('progress', () => { if (originator === 'local') setCall('ringing back'); });
    s.on('confirmed', () => {
      st.answeredAt = Date.now();
      setCall('connected');
      st.clockTimer = setInterval(tick, 1000);
      st.statsTimer = setInterval(quality, 1000);
    });
    s.on('hold', (e) => { console.info(`hold by ${e.originator}`); setCall('on hold'); });
    s.on('unhold', (e) => { console.info(`unhold by ${e.originator}`); setCall('connected'); });
    s.on('muted', () => pressed('mute', true));
    s.on('unmuted', () => pressed('mute', false));
    const end = (e) => {
      clearInterval(st.clockTimer);
      clearInterval(st.statsTimer);
      st.session = null;
      pressed('hold', false);
      pressed('mute', false);
      $('call-timer').textContent = '';
      setCall(`ended (${e.cause || 'normal'})`);
      if (st.agent) setTimeout(refreshAgent, 300);
    };
    s.on('ended', end);
    s.on('failed', end);
  }

  function attachMedia(pc) {
    pc.addEventListener('track', (e) => {
      $('remote-audio').srcObject = e.streams[0] || new MediaStream([e.track]);
    });
  }

  function pressed(id, on) { $(id).setAttribute('aria-pressed', String(on)); }

  function tick() {
    const s = Math.floor((Date.now() - st.answeredAt) / 1000);
    $('call-timer').textContent = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
  }

  const media = { mediaConstraints: { audio: true, video: false }, pcConfig: { iceServers: [] } };

  function dial(ev) {
    ev.preventDefault();
    const number = $('number').value.trim();
    if (!number || !st.ua || st.session) return;
    st.ua.call(`sip:${number}@${st.cfg.domain}`, media);
  }

  function answer() { if (st.session) st.session.answer(media); }
  function hangup() { if (st.session) st.session.terminate(); }

  function hold() {
    const s = st.session;
    if (!s) return;
    if (s.isOnHold().local) { s.unhold(); pressed('hold', false); } else { s.hold(); pressed('hold', true); }
  }

  function mute() {
    const s = st.session;
    if (!s) return;
    if (s.isMuted().audio) s.unmute({ audio: true }); else s.mute({ audio: true });
  }

  function dtmf(key) {
    if (st.session) st.session.sendDTMF(key, { transportType: JsSIP.C.DTMF_TRANSPORT.RFC2833, duration: 160 });
  }

  function transfer(ev) {
    ev.preventDefault();
    const to = $('transfer-to').value.trim();
    if (!st.session || !to) return;
    $('phone-error').textContent = '';
    const failed = (e) => {
      const why = e.cause || (e.response && `${e.response.status_code} ${e.response.reason_phrase}`)
        || (e.status_line && `${e.status_line.status_code} ${e.status_line.reason_phrase}`) || 'refused';
      $('phone-error').textContent = `transfer to ${to} failed: ${why}`;
    };
    try {
      st.session.refer(`sip:${to}@${st.cfg.domain}`, {
        eventHandlers: {
          requestFailed: failed,
          failed,
          accepted: () => { $('phone-error').textContent = `transferred to ${to}`; },
        },
      });
    } catch (e) {
      failed({ cause: e.message });
    }
  }

  async function quality() {
    const pc = st.session && st.session.connection;
    if (!pc) return;
    const stats = await pc.getStats();
    let inbound = null; let outbound = null; let pair = null;
    stats.forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'audio') inbound = r;
      if (r.type === 'outbound-rtp' && r.kind === 'audio') outbound = r;
      if (r.type === 'candidate-pair' && r.nominated && r.state === 'succeeded') pair = r;
    });
    if (inbound) {
      const codec = inbound.codecId && stats.get(inbound.codecId);
      $('q-codec').textContent = codec ? `${codec.mimeType.replace('audio/', '')} ${codec.clockRate} Hz` : '—';
      $('q-jitter').textContent = `${((inbound.jitter || 0) * 1000).toFixed(1)} ms`;
      $('q-lost').textContent = String(inbound.packetsLost || 0);
    }
    $('q-packets').textContent = `${inbound ? inbound.packetsReceived : 0} / ${outbound ? outbound.packetsSent : 0}`;
    if (pair && pair.currentRoundTripTime !== undefined) {
      $('q-rtt').textContent = `${(pair.currentRoundTripTime * 1000).toFixed(0)} ms`;
    }
  }

  // ---- agent state (ACD) --------------------------------------------------------------
  function api(path, init = {}) {
    init.headers = Object.assign({ authorization: `Bearer ${st.token}` }, init.headers || {});
    return fetch(`/api/v1${path}`, init);
  }

  async function refreshAgent() {
    const r = await api('/agents');
    if (!r.ok) return;
    const body = await r.json();
    const me = (body.items || []).find((a) => a.agent === st.agent);
    if (!me) return;
    const state = me.state.replace(/_/g, ' ');
    $('agent-state').textContent = me.reason ? `${state} (${me.reason})` : state;
    st.agentSince = typeof me.state_duration_s === 'number' ? Date.now() - me.state_duration_s * 1000 : null;
    agentTick();
  }

  function agentTick() {
    if (st.agentSince === null) { $('agent-since').textContent = ''; return; }
    const s = Math.max(0, Math.floor((Date.now() - st.agentSince) / 1000));
    $('agent-since').textContent = s < 60 ? `for ${s} s` : `for ${Math.floor(s / 60)} min ${s % 60} s`;
  }

  async function setState(state, reason) {
    $('agent-error').textContent = '';
    const body = reason ? { state, reason } : { state };
    const r = await api(`/agents/${encodeURIComponent(st.agent)}/state`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    if (!r.ok) {
      const e = await r.json().catch(() => ({}));
      $('agent-error').textContent = e.message || `HTTP ${r.status}`;
    }
    refreshAgent();
  }

  // ---- events and the screen pop ------------------------------------------------------
  async function streamEvents() {
    while (st.token) {
      const ctl = new AbortController();
      st.stream = ctl;
      try {
        const headers = {};
        if (st.lastEventId) headers['last-event-id'] = st.lastEventId;
        const r = await api('/events?kinds=call.,queue.,agent.', { headers, signal: ctl.signal });
        if (!r.ok) throw new Error(`HTTP ${r.status}`);
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            sseBlock(buf.slice(0, i));
            buf = buf.slice(i + 2);
          }
        }
      } catch (e) {
        if (!st.token) return;
      }
      await new Promise((res) => setTimeout(res, 1000));
    }
  }

  function sseBlock(block) {
    let id = null; let data = '';
    for (const line of block.split('\n')) {
      if (line.startsWith('id:')) id = line.slice(3).trim();
      else if (line.startsWith('data:')) data += line.slice(5).trim();
    }
    if (id) st.lastEventId = id;
    if (!data) return;
    let ev;
    try { ev = JSON.parse(data); } catch (e) { return; }
    onEvent(ev);
  }

  function onEvent(ev) {
    const li = document.createElement('li');
    const at = new Date(ev.at_ms).toLocaleTimeString();
    li.textContent = `${at} ${ev.kind}${ev.call_id ? ` · ${ev.call_id}` : ''}`;
    const list = $('events');
    list.prepend(li);
    while (list.children.length > 50) list.lastChild.remove();
    if (ev.kind.startsWith('agent.') && st.agent) refreshAgent();
    if (ev.kind === 'queue.offer' || ev.kind === 'queue.connect') fillPopFromEvent(ev);
  }

  function setPop(fields) {
    const dl = $('pop-fields');
    dl.replaceChildren();
    for (const [k, v] of fields) {
      if (v === undefined || v === null || v === '') continue;
      const dt = document.createElement('dt'); dt.textContent = k;
      const dd = document.createElement('dd'); dd.textContent = String(v);
      dd.dataset.field = k;
      dl.append(dt, dd);
    }
    $('pop-empty').hidden = dl.children.length > 0;
  }

  function fillPopFromSip(s) {
    setPop([
      ['Caller', peerOf(s)],
      ['Rang at', new Date().toLocaleTimeString()],
    ]);
  }

  function fillPopFromEvent(ev) {
    const p = ev.payload || {};
    const kind = p.kind || {};
    const current = new Map([...$('pop-fields').querySelectorAll('dd')].map((d) => [d.dataset.field, d.textContent]));
    setPop([
      ['Caller', kind.caller || p.caller || current.get('Caller')],
      ['Skill group', p.queue || kind.queue],
      ['Waited', kind.wait_ms !== undefined ? `${Math.round(kind.wait_ms / 1000)} s` : current.get('Waited')],
      ['Position', kind.position],
      ['Call id', ev.call_id],
      ['Rang at', current.get('Rang at') || new Date(ev.at_ms).toLocaleTimeString()],
    ]);
  }

  // ---- wiring ---------------------------------------------------------------------------
  $('login-form').addEventListener('submit', login);
  $('logout').addEventListener('click', logout);
  $('dial-form').addEventListener('submit', dial);
  $('answer').addEventListener('click', answer);
  $('hangup').addEventListener('click', hangup);
  $('hold').addEventListener('click', hold);
  $('mute').addEventListener('click', mute);
  $('transfer-form').addEventListener('submit', transfer);
  $('keypad').addEventListener('click', (e) => { if (e.target.dataset.key) dtmf(e.target.dataset.key); });
  document.addEventListener('keydown', (e) => {
    if (st.session && /^[0-9*#]$/.test(e.key) && document.activeElement.tagName !== 'INPUT') dtmf(e.key);
  });
  $('state-login').addEventListener('click', () => setState('login'));
  $('state-ready').addEventListener('click', () => setState('ready'));
  $('state-break').addEventListener('click', () => setState('break', $('break-reason').value));
  $('state-logout').addEventListener('click', () => setState('logout'));
  window.addEventListener('beforeunload', () => { if (st.ua) st.ua.stop(); });
  setCall('idle');
  loadConfig().catch((e) => { $('login-error').textContent = `cannot read the server settings: ${e.message}`; });
})();
