import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { CrewApp, CrewSession } from 'rxcrew';
import { createVoiceSetup } from '../../demos/voice-agent/setup';
import { CrewClient } from '../integration/helpers';
import { describeIfChromium, launchChromium } from '../support/chromium';

/*
 * The session inspector in Debian's Chromium (playwright-core): the voice demo's
 * graph, a scripted client typing to it over a real WebSocket, and the page
 * drawing the graph with Mermaid and counting as the client talks. Every wait
 * is on the page's DOM or a client event; timeouts only guard.
 *
 * INSPECTOR_SCREENSHOT=1 also writes docs/images/inspector.png (the docs' picture).
 */

const SCREENSHOT = join(__dirname, '..', '..', 'docs', 'images', 'inspector.png');
const quiet = { error: () => undefined, warn: () => undefined, info: () => undefined };
const NODES = ['VoiceActivity', 'VoiceAssistant', 'TextToSpeech', 'AudioPacer'];

describeIfChromium('the session inspector in Chromium', () => {
  let app: CrewApp;
  let browser: Browser;
  let page: Page;
  let base: string;
  let client: CrewClient;
  const sessions: CrewSession[] = [];

  beforeAll(async () => {
    const setup = createVoiceSetup({ log: () => undefined, initTimeout: 0 });
    app = new CrewApp({
      setup: async (session) => {
        sessions.push(session);
        await setup(session);
      },
      inspector: true,
      host: '127.0.0.1',
      port: 0,
      logger: quiet,
      // the page and its feed pass the page's query string on: a token works for all three routes
      authenticate: (req) => new URL(req.url!, 'http://x').searchParams.get('token') === 'letmein' || req.url!.startsWith('/ws'),
    });
    const { port } = await app.listen();
    base = `http://127.0.0.1:${port}`;
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    client = await CrewClient.connect(`ws://127.0.0.1:${port}/ws`);
    await client.next('agent.ready');
  }, 60_000);

  afterAll(async () => {
    client?.terminate();
    await browser?.close();
    await app?.close();
  });

  const until = (expression: string) => page.waitForFunction(expression, undefined, { timeout: 15_000 });
  /** What the page shows for `name`: events received and emitted, from its node table. */
  const shown = (name: string) =>
    page.$eval(`#nodes tr[data-node="${name}"]`, (tr) => ({ received: Number(tr.getAttribute('data-received')), emitted: Number(tr.getAttribute('data-emitted')) }));

  /** The user types `text`; resolves when the agent's reply has ended. */
  async function ask(text: string): Promise<void> {
    client.send({ type: 'agent.transcript.update', role: 'user', content: text });
    client.send({ type: 'system.llm.request' });
    await client.next('agent.llm.response.end', 15_000);
  }

  it('answers 401 without the token', async () => {
    expect((await page.goto(`${base}/inspector`))!.status()).toBe(401);
  });

  it('lists the live session and draws its graph with Mermaid when selected', async () => {
    await page.goto(`${base}/inspector?token=letmein`);
    const id = sessions[0].id;
    await page.waitForSelector(`#sessions tr[data-id="${id}"]`, { timeout: 15_000 });
    await page.click(`#sessions tr[data-id="${id}"]`);
    await page.waitForSelector('#graph[data-rendered] svg', { timeout: 15_000 });
    const labels = await page.$$eval('#graph svg g.node', (nodes) => nodes.map((n) => n.textContent ?? ''));
    for (const name of [...NODES, 'root', 'sink']) expect(labels.some((l) => l.includes(name))).toBe(true);
    // each node of the drawing carries its counts
    await until(`document.querySelectorAll('#graph svg text.rx-count').length === ${NODES.length}`);
  }, 60_000);

  it('counts move on the page while the client talks, in the table and in the graph', async () => {
    const before = await shown('VoiceAssistant');
    const drawnBefore = await page.$eval('#graph svg text.rx-count[data-node="TextToSpeech"]', (t) => t.textContent);
    await ask('hello');
    await until(`Number(document.querySelector('#nodes tr[data-node="VoiceAssistant"]').dataset.emitted) > ${before.emitted}`);
    expect((await shown('VoiceAssistant')).received).toBeGreaterThan(before.received);
    await until(`document.querySelector('#graph svg text.rx-count[data-node="TextToSpeech"]').textContent !== ${JSON.stringify(drawnBefore)}`);
    // recent events: what the client sent, and the agent's audio as a byte count (never its samples)
    await until(`[...document.querySelectorAll('#events tbody tr')].some((tr) => tr.textContent.includes('agent.transcript.update'))`);
    await until(`[...document.querySelectorAll('#events tbody tr')].some((tr) => tr.textContent.includes('agent.audio') && Number(tr.children[4].textContent) > 0)`);
    if (process.env.INSPECTOR_SCREENSHOT) {
      // for the picture only: give the turn's figures (sent once its audio has gone out) a moment to show
      await page.waitForSelector('#turns tbody tr:not(:has(td.empty))', { timeout: 5000 }).catch(() => undefined);
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
    }
  }, 60_000);
});
