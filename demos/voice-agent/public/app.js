// The voice demo page: speaks the Atoms protocol over /ws, plays agent audio
// (PCM16 mono 16 kHz) with Web Audio, streams the microphone through an
// AudioWorklet, and shows the conversation and every event.
(() => {
  'use strict';
  const RATE = 16000;
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

  function connect() {
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
    ws.binaryType = 'arraybuffer';
    demo.ws = ws;
    ws.onopen = () => {
      setStatus('connecting', 'handshake…');
      send({
        type: 'system.init',
        version: '1.0',
        session_context: { initial_variables: {}, conversation_type: 'voice' },
        audio: { input_sample_rate: RATE, output_sample_rate: RATE },
      });
    };
    ws.onmessage = (m) => (typeof m.data === 'string' ? onEvent(JSON.parse(m.data)) : onAudio(m.data));
    ws.onclose = (e) => {
      setStatus('closed', `closed (${e.code})`);
      for (const id of ['text', 'send', 'mic']) $(id).disabled = true;
      stopMic();
    };
  }

  function onEvent(e) {
    logEvent('in', e.type, e.type === 'agent.error' ? e.message : '');
    switch (e.type) {
      case 'agent.ready':
        demo.ready = true;
        setStatus('ready', 'connected');
        for (const id of ['text', 'send', 'mic']) $(id).disabled = false;
        send({ type: 'system.user.joined' });
        break;
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
    if (!text || !demo.ready) return;
    $('text').value = '';
    audioContext(); // a user gesture: lets audio play in browsers that need one
    addMessage('user', text);
    send({ type: 'agent.transcript.update', role: 'user', content: text });
    send({ type: 'system.llm.request' });
  });

  $('mic').addEventListener('click', () => {
    if (demo.mic) stopMic();
    else startMic().catch((err) => addMessage('note', `microphone: ${err.message}`));
  });

  connect();
})();
