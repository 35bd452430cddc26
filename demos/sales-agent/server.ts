/*
 * The sales-agent demo server: the product page's "Complete Setup" as a
 * runnable program. Every WebSocket connection to ws://localhost:8080/ws gets
 * its own session built by `setup` (tracker → agent).
 *
 * Run: npm run demo:sales            (builds to dist/, then runs this file)
 *      PORT=9000 npm run demo:sales  (another port)
 *      HOST=127.0.0.1 npm run demo:sales (loopback only; default: every interface)
 * Talk to it: npx rxcrew chat --name Ada   (or npm run demo:client -- --name Ada)
 */
import { AtomsCrewApp } from 'rxcrew';
import { defaultResponder } from 'rxcrew/llm';
import { setup } from './setup';

// No port option: the app reads $PORT and falls back to 8080, as the design asks.
const app = new AtomsCrewApp({ setup, ...(process.env.HOST ? { host: process.env.HOST } : {}) });
console.log(`model: ${defaultResponder().description}`);

// run() listens, prints the URL, and closes every session gracefully on SIGINT/SIGTERM.
app.run().catch((err: unknown) => {
  // e.g. EADDRINUSE: one clear line, no stack trace.
  const message = err instanceof Error ? err.message : String(err);
  console.error(`sales-agent: cannot start the server: ${message}`);
  process.exitCode = 1;
});
