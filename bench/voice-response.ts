/*
 * The voice path's latency, over a real socket on loopback, with the voice demo's graph
 * (VoiceActivity → a scripted model → TextToSpeech with the embedded mespeak engine →
 * AudioPacer):
 *   npm run bench:voice [-- --runs 10]
 * Each run the client speaks 400 ms of tone in real-time 20 ms frames, then silence;
 * when the server says system.user.stopped_speaking (VoiceActivity, after its 400 ms
 * hangover) the client answers at once with the transcript and system.llm.request, as a
 * platform's speech-to-text would. Reported: the turn.metrics figures the server sent
 * (voice_response_ms: stopped_speaking → first agent audio written; tts_ttfb_ms; ttft_ms),
 * and what the client saw: stopped_speaking received → first audio frame, and the end of
 * its voice → first audio frame (the voice-to-voice latency, hangover included).
 */
import WebSocket from 'ws';
import { CrewApp, CrewEvent } from 'rxcrew';
import { scriptedResponder } from 'rxcrew/llm';
import { createVoiceSetup } from '../demos/voice-agent/setup';

const RATE = 16000;
const FRAME_MS = 20;

function tone(ms: number): Buffer {
  const n = (ms * RATE) / 1000;
  const out = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) out.writeInt16LE(Math.round(3000 * Math.sin((2 * Math.PI * 440 * i) / RATE)), i * 2);
  return out;
}

function quantiles(samples: number[]): string {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))].toFixed(1);
  return `p50 ${q(0.5)} ms, p90 ${q(0.9)} ms, max ${q(1)} ms`;
}

async function main(): Promise<void> {
  const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 10;
  const responder = scriptedResponder([{ name: 'any', when: () => true, reply: 'Sure, I can help with that. What would you like to know?' }], { chunkDelayMs: 30 });
  const setup = createVoiceSetup({ responder, log: () => undefined });
  const app = new CrewApp({ setup, host: '127.0.0.1', port: 0, logger: { info() {}, warn() {}, error() {} } });
  const { port } = await app.listen();
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  await new Promise((r) => ws.once('open', r));
  ws.send(JSON.stringify({ type: 'system.init', version: '1.0', audio: { input_sample_rate: RATE, output_sample_rate: RATE } }));

  const voice = tone(FRAME_MS);
  const quiet = Buffer.alloc(voice.length);
  let speaking = 0; // voiced frames still to send
  let voiceEndedAt = 0;
  let stoppedAt = 0;
  let lastAudioAt = 0;
  let firstAudio: (() => void) | undefined;
  const mic = setInterval(() => {
    if (speaking > 0 && --speaking === 0) voiceEndedAt = performance.now();
    ws.send(speaking > 0 ? voice : quiet);
  }, FRAME_MS);
  const metrics: CrewEvent[] = [];
  const fromStop: number[] = [];
  const fromVoiceEnd: number[] = [];
  ws.on('message', (data, isBinary) => {
    if (isBinary) {
      lastAudioAt = performance.now();
      firstAudio?.();
      firstAudio = undefined;
      return;
    }
    const e = JSON.parse(data.toString()) as CrewEvent;
    if (e.type === 'system.user.stopped_speaking') {
      stoppedAt = performance.now();
      ws.send(JSON.stringify({ type: 'agent.transcript.update', role: 'user', content: 'Can you help me?' }));
      ws.send(JSON.stringify({ type: 'system.llm.request' }));
    } else if (e.type === 'agent.log' && e.name === 'turn.metrics') metrics.push(e);
  });
  const quietFor = async (ms: number) => {
    lastAudioAt = performance.now();
    while (performance.now() - lastAudioAt < ms) await new Promise((r) => setTimeout(r, 50));
  };
  await new Promise<void>((r) => (firstAudio = r)); // the greeting plays first
  await quietFor(800);
  for (let k = 0; k < runs; k++) {
    const heard = new Promise<void>((r) => (firstAudio = r));
    speaking = 400 / FRAME_MS + 1;
    await heard;
    const at = performance.now();
    fromStop.push(at - stoppedAt);
    fromVoiceEnd.push(at - voiceEndedAt);
    await quietFor(800); // the reply plays out (paced at real time) before the user speaks again
  }
  clearInterval(mic);
  ws.close();
  await app.close();
  if (process.env.BENCH_VERBOSE) for (const m of metrics) console.log(JSON.stringify(m.payload));
  if (process.env.BENCH_VERBOSE) console.log(fromStop.map((v) => v.toFixed(0)).join(" "));
  const field = (name: string) => metrics.map((m) => (m.payload as Record<string, number>)[name]).filter((v) => typeof v === 'number');
  console.log(`server  voice_response_ms (stopped_speaking → first audio sent): ${quantiles(field('voice_response_ms'))}  (n=${field('voice_response_ms').length})`);
  console.log(`server  tts_ttfb_ms (first sentence → first audio, mespeak):      ${quantiles(field('tts_ttfb_ms'))}`);
  console.log(`server  ttft_ms (scripted model, 30 ms a piece):                   ${quantiles(field('ttft_ms'))}`);
  console.log(`client  stopped_speaking received → first audio frame:             ${quantiles(fromStop)}  (n=${runs})`);
  console.log(`client  end of its voice → first audio frame (hangover included):  ${quantiles(fromVoiceEnd)}`);
}

void main();
