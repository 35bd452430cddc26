/*
 * How fast an interrupt takes effect, over a real socket on loopback:
 *   npm run bench:interrupt [-- --runs 200]
 * A turn streams text into TextToSpeech-free audio (a fake 20 ms frame per word)
 * through AudioPacer. After a few frames the client sends system.control.interrupt
 * and we measure (1) interrupt → the turn's AbortSignal (server side), (2) interrupt
 * → agent.control.interrupt back at the client (round trip), and count (3) audio
 * frames that reach the client after agent.control.interrupt (must be 0).
 */
import WebSocket from 'ws';
import { map } from 'rxjs';
import { CrewApp, CrewSession, event, node, OutputCrewNode, Turn } from 'rxcrew';
import { AudioPacer } from 'rxcrew/operators';

let abortedAt = 0;

class Talker extends OutputCrewNode {
  async *generateResponse(turn: Turn): AsyncGenerator<string> {
    turn.signal.addEventListener('abort', () => (abortedAt = performance.now()));
    for (let i = 0; i < 200 && !turn.signal.aborted; i++) {
      yield `w${i} `;
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

// one 20 ms frame of 16 kHz PCM16 per chunk: stands in for text-to-speech
const speak = () => node('fake-tts', map((e) => (e.type === 'agent.llm.response.chunk' ? event('agent.audio', { audio: Buffer.alloc(640, 1), sample_rate: 16000 }) : e)));

function quantiles(samples: number[]): string {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))].toFixed(3);
  return `p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${q(1)} ms`;
}

async function main(): Promise<void> {
  const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 200;
  const setup = (s: CrewSession) => {
    const talker = new Talker();
    const tts = speak();
    const pacer = new AudioPacer();
    s.addNode(talker).addNode(tts).addNode(pacer).addEdge(talker, tts).addEdge(tts, pacer);
  };
  const app = new CrewApp({ setup, host: '127.0.0.1', port: 0, logger: { info() {}, warn() {}, error() {} } });
  const { port } = await app.listen();
  const toAbort: number[] = [];
  const toClear: number[] = [];
  let lateFrames = 0;
  for (let k = 0; k < runs; k++) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    await new Promise((r) => ws.once('open', r));
    let frames = 0;
    let sentAt = 0;
    let cleared = false;
    await new Promise<void>((resolve) => {
      ws.on('message', (data, isBinary) => {
        if (isBinary) {
          if (cleared) lateFrames++;
          if (++frames === 5) {
            sentAt = performance.now();
            ws.send(JSON.stringify({ type: 'system.control.interrupt' }));
          }
          return;
        }
        if (JSON.parse(data.toString()).type === 'agent.control.interrupt') {
          cleared = true;
          toClear.push(performance.now() - sentAt);
          toAbort.push(abortedAt - sentAt);
          setTimeout(resolve, 50); // late frames would arrive now
        }
      });
      ws.send(JSON.stringify({ type: 'system.llm.request' }));
    });
    ws.close();
  }
  console.log(`interrupt → AbortSignal (server):       ${quantiles(toAbort)}  (n=${runs})`);
  console.log(`interrupt → agent.control.interrupt (rtt): ${quantiles(toClear)}`);
  console.log(`audio frames after agent.control.interrupt: ${lateFrames}`);
  await app.close();
}

void main();
