// The voice demo page: speaks the Atoms protocol over /ws, plays agent audio
// (PCM16 mono 16 kHz) with Web Audio, streams the microphone through an
// AudioWorklet, and shows the conversation and every event. When the server
// gave a resume_token and the connection is lost (any close but 1000), it
// reconnects with ?resume= and keeps the microphone going.
(() => {
  'use strict';
  const RATE = 16000;
  // as `rxcrew chat` (lib/cli/reconnect.ts): 10 attempts within 30 s, 100 ms doubling up to 2 s
  const RECONNECT = { maxAttempts: 10, maxOutageMs: 30000, baseDelayMs: 100, maxDelayMs: 2000, readyMs: 10000 };
  const $ = (id) => document.getElementById(id);
  const demo = {
    ws: null,
    ready: false,
    reply: null,
    lastAgent: null,
    audio: null,
    playhead: 0,
    sources: new Set(),
    agentSeconds: 0,
    micSeconds: 0,
    mic: null,
    interrupts: 0,
    events: [],
    resumeToken: null, // the current session's, from agent.ready
    sessionId: null,
    lost: null, // while the connection is lost: { code, attempts, since, sessionId, asked }
    asked: null, // the typed message whose reply has not ended
    outbox: [], // messages typed while the connection was lost
    readyTimer: null,
  };
  window.rxcrewDemo = demo; // what the browser test reads

  function logEvent(direction, type, detail) {
    demo.events.push(`${direction} ${type}`);
    const li = document.createElement('li');
    li.className = direction + (type.includes('interrupt') ? ' interrupt' : '');
    li.textContent = detail ? `${type} ${detail}` : type;
    const list = $('events');
    list.append(li);
    while (list.children.length > 300) list.firstElementChild.remove();
    list.scrollTop = list.scrollHeight;
  }

  function addMessage(role, text) {
    const li = document.createElement('li');
    li.className = role;
    li.textContent = text;
    $('messages').append(li);
    $('messages').scrollTop = $('messages').scrollHeight;
    return li;
  }

  function setStatus(state, text) {
    $('status').dataset.state = state;
    $('status').textContent = text;
  }

  function send(e) {
    if (!demo.ws || demo.ws.readyState !== WebSocket.OPEN) return;
    demo.ws.send(JSON.stringify(e));
    logEvent('out', e.type);
  }

  function socketUrl() {
    const url = new URL('/ws', location.href);
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    if (demo.lost && demo.resumeToken) url.searchParams.set('resume', demo.resumeToken);
    return url.toString();
  }

  function connect() {
    const ws = new WebSocket(socketUrl());
    ws.binaryType = 'arraybuffer';
    demo.ws = ws;
    // an attempt that opens but never gets agent.ready must not hang the reconnect;
    // 4000, not 1000: a normal close would end the session we want back
    clearTimeout(demo.readyTimer);
    demo.readyTimer = demo.lost ? setTimeout(() => ws.close(4000, 'no agent.ready'), RECONNECT.readyMs) : null;
    ws.onopen = () => {
      if (!demo.lost) setStatus('connecting', 'handshake…'); // reconnecting: that status stays until agent.ready
      send({
        type: 'system.init',
        version: '1.0',
        session_context: { initial_variables: {}, conversation_type: 'voice' },
        audio: { input_sample_rate: RATE, output_sample_rate: RATE },
      });
    };
    ws.onmessage = (m) => (typeof m.data === 'string' ? onEvent(JSON.parse(m.data)) : onAudio(m.data));
    ws.onclose = (e) => {
      if (ws !== demo.ws) return;
      clearTimeout(demo.readyTimer);
      demo.ready = false;
      if (demo.lost) retry(); // this attempt failed
      else if (e.code !== 1000 && demo.resumeToken) lose(e.code);
      else end(`closed (${e.code})`);
    };
  }

  function end(text) {
    setStatus('closed', text);
    for (const id of ['text', 'send', 'mic']) $(id).disabled = true;
    stopMic();
  }

  // The connection is lost: the reply in flight is cut (a resumed session answers it again),
  // the microphone keeps running (its frames wait for a socket), and we try again.
  function lose(code) {
    if (demo.reply) {
      demo.reply.el.classList.add('cut');
      demo.reply = null;
      stopPlayback();
    }
    demo.lost = { code, attempts: 0, since: Date.now(), sessionId: demo.sessionId, asked: demo.asked };
    setStatus('reconnecting', `connection lost (${code}); reconnecting…`);
    retry();
  }

  // 1012 (a drained worker) goes again at once; else 100 ms, doubling up to 2 s, with jitter
  function reconnectDelay(attempt, code) {
    const step = code === 1012 ? attempt - 1 : attempt;
    if (step < 0) return 0;
    const ceiling = Math.min(RECONNECT.maxDelayMs, RECONNECT.baseDelayMs * 2 ** Math.min(step, 30));
    return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
  }

  function retry() {
    const lost = demo.lost;
    const delay = reconnectDelay(lost.attempts, lost.code);
    if (lost.attempts >= RECONNECT.maxAttempts || Date.now() - lost.since + delay > RECONNECT.maxOutageMs) {
      demo.lost = null;
      end(`connection lost (${lost.code}); could not reconnect`);
      return;
    }
    setTimeout(() => {
      lost.attempts++;
      setStatus('reconnecting', `connection lost (${lost.code}); reconnecting (attempt ${lost.attempts})…`);
      connect();
    }, delay);
  }

  // Back after a loss: the same session, or a new one (which never had the message cut short)
  function rejoined(lost) {
    const resumed = lost.sessionId === null || lost.sessionId === demo.sessionId;
    setStatus('ready', resumed ? 'resumed' : 'new session');
    if (!resumed && lost.asked) demo.outbox.unshift(lost.asked);
  }

  function ask(text) {
    demo.asked = text;
    send({ type: 'agent.transcript.update', role: 'user', content: text });
    send({ type: 'system.llm.request' });
  }

  function onEvent(e) {
    logEvent('in', e.type, e.type === 'agent.error' ? e.message : '');
    switch (e.type) {
      case 'agent.ready': {
        demo.ready = true;
        clearTimeout(demo.readyTimer);
        demo.resumeToken = typeof e.resume_token === 'string' && e.resume_token ? e.resume_token : null;
        demo.sessionId = typeof e.session_id === 'string' ? e.session_id : null;
        const lost = demo.lost;
        demo.lost = null;
        if (lost) rejoined(lost);
        else setStatus('ready', 'connected');
        for (const id of ['text', 'send', 'mic']) $(id).disabled = false;
        send({ type: 'system.user.joined' });
        for (const li of $('messages').querySelectorAll('li.queued')) li.classList.remove('queued');
        for (const text of demo.outbox.splice(0)) ask(text);
        break;
      }
      case 'agent.speak':
        demo.lastAgent = addMessage('agent', e.text);
        break;
      case 'agent.transcript.update':
        if (e.role === 'user') addMessage('user', e.content); // what speech-to-text heard
        break;
      case 'agent.llm.response.start':
        demo.reply = { el: addMessage('agent', ''), text: '' };
        demo.lastAgent = demo.reply.el;
        break;
      case 'agent.llm.response.chunk':
        if (demo.reply) {
          demo.reply.text += e.text;
          demo.reply.el.textContent = demo.reply.text;
        }
        break;
      case 'agent.llm.response.end':
        if (demo.reply) {
          if (e.interrupted) demo.reply.el.classList.add('interrupted');
          if (demo.reply.text) send({ type: 'agent.transcript.update', role: 'assistant', content: demo.reply.text });
        }
        demo.reply = null;
        demo.asked = null;
        break;
      case 'agent.control.interrupt':
        demo.interrupts++;
        stopPlayback();
        if (demo.lastAgent) demo.lastAgent.classList.add('interrupted');
        break;
      case 'system.user.started_speaking':
        $('speaking').hidden = false;
        break;
      case 'system.user.stopped_speaking':
        $('speaking').hidden = true;
        break;
      case 'agent.end_call':
        addMessage('note', 'The agent ended the call.');
        break;
      case 'agent.error':
        if (e.payload && e.payload.code === 'CREW_ERR_RESUME_REFUSED') setStatus('ready', `new session (could not resume: ${e.payload.reason || e.message})`);
        addMessage('note', `error: ${e.message}`);
        break;
    }
  }

  function audioContext() {
    if (!demo.audio) demo.audio = new AudioContext();
    if (demo.audio.state === 'suspended') void demo.audio.resume();
    return demo.audio;
  }

  function onAudio(buffer) {
    const ctx = audioContext();
    const pcm = new Int16Array(buffer);
    const samples = new Float32Array(pcm.length);
    for (let i = 0; i < pcm.length; i++) samples[i] = pcm[i] / 32768;
    const clip = ctx.createBuffer(1, samples.length, RATE);
    clip.copyToChannel(samples, 0);
    const source = ctx.createBufferSource();
    source.buffer = clip;
    source.connect(ctx.destination);
    const at = Math.max(ctx.currentTime + 0.03, demo.playhead);
    source.start(at);
    demo.playhead = at + clip.duration;
    demo.sources.add(source);
    source.onended = () => demo.sources.delete(source);
    demo.agentSeconds += clip.duration;
    $('agent-audio').textContent = demo.agentSeconds.toFixed(1);
  }

  function stopPlayback() {
    for (const source of demo.sources) {
      try {
        source.stop();
      } catch {
        // already ended
      }
    }
    demo.sources.clear();
    demo.playhead = 0;
  }

  async function startMic() {
    const ctx = audioContext();
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: false, autoGainControl: false },
    });
    await ctx.audioWorklet.addModule('mic-worklet.js');
    const source = ctx.createMediaStreamSource(stream);
    const capture = new AudioWorkletNode(ctx, 'pcm16-capture', { processorOptions: { targetRate: RATE, frameMs: 20 } });
    capture.port.onmessage = (m) => {
      if (!demo.ws || demo.ws.readyState !== WebSocket.OPEN) return;
      demo.ws.send(m.data);
      demo.micSeconds += m.data.byteLength / 2 / RATE;
      $('mic-audio').textContent = demo.micSeconds.toFixed(1);
    };
    const mute = ctx.createGain(); // keeps the worklet pulled without playing the mic back
    mute.gain.value = 0;
    source.connect(capture).connect(mute).connect(ctx.destination);
    demo.mic = { stream, source, capture };
    $('mic').setAttribute('aria-pressed', 'true');
    $('mic').textContent = 'Stop microphone';
  }

  function stopMic() {
    if (!demo.mic) return;
    demo.mic.stream.getTracks().forEach((t) => t.stop());
    demo.mic.source.disconnect();
    demo.mic.capture.disconnect();
    demo.mic = null;
    $('mic').setAttribute('aria-pressed', 'false');
    $('mic').textContent = 'Start microphone';
  }

  $('composer').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = $('text').value.trim();
    if (!text || (!demo.ready && !demo.lost)) return;
    $('text').value = '';
    audioContext(); // a user gesture: lets audio play in browsers that need one
    const li = addMessage('user', text);
    if (demo.ready) return ask(text);
    li.classList.add('queued'); // sent once the connection is back
    demo.outbox.push(text);
  });

  $('mic').addEventListener('click', () => {
    if (demo.mic) stopMic();
    else startMic().catch((err) => addMessage('note', `microphone: ${err.message}`));
  });

  connect();
})();
