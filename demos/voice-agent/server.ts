/*
 * The voice demo: `npm start` serves the page at http://localhost:8080/ and
 * the agent at ws://localhost:8080/ws. Embedded defaults only, unless keys say
 * otherwise: the scripted model (OPENAI_API_KEY / OPENAI_BASE_URL for a real
 * one), embedded text-to-speech (mespeak), energy voice activity detection, and
 * speech-to-text only with SMALLEST_API_KEY (Pulse); without it, type.
 * RXCREW_INSPECTOR=1 also serves the session inspector at /inspector (open to
 * anyone who reaches the port: for a machine of your own).
 */
import { CrewApp } from 'rxcrew';
import { defaultResponder } from 'rxcrew/llm';
import { PulseEngine } from 'rxcrew/voice';
import { createVoiceSetup } from './setup';
import { publicFolder, staticFiles } from './static-files';

const stt = process.env.SMALLEST_API_KEY ? new PulseEngine() : undefined;
const responder = defaultResponder();
const app = new CrewApp({
  setup: createVoiceSetup({ stt, responder }),
  http: staticFiles(publicFolder()),
  inspector: process.env.RXCREW_INSPECTOR === '1',
  ...(process.env.HOST ? { host: process.env.HOST } : {}),
});
console.log(`model: ${responder.description}`);
if (process.env.RXCREW_INSPECTOR === '1') console.log(`inspector: http://localhost:${process.env.PORT || 8080}/inspector`);
console.log(`speech-to-text: ${stt ? 'Pulse (SMALLEST_API_KEY)' : 'none (type in the page; set SMALLEST_API_KEY for Pulse)'}`);

app.run().catch((err: unknown) => {
  console.error(`voice demo: cannot start the server: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
