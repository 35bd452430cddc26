import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { CrewApp } from 'rxcrew';
import { createVoiceSetup } from '../../demos/voice-agent/setup';
import { publicFolder, staticFiles } from '../../demos/voice-agent/static-files';
import { describeIfChromium, launchChromiumWithMicrophone } from '../support/chromium';

/*
 * The voice demo in a real browser: Debian's Chromium (installed by .ci/run),
 * driven by playwright-core, with a fake microphone playing a WAV we make here.
 * Every wait is on something the page shows or counts; timeouts only guard.
 */

const quiet = { error: () => undefined, warn: () => undefined, info: () => undefined };

describeIfChromium('voice demo in Chromium', () => {
  let app: CrewApp;
  let browser: Browser;
  let page: Page;
  let url: string;
  const log: string[] = [];

  beforeAll(async () => {
    app = new CrewApp({
      setup: createVoiceSetup({ log: (line) => void log.push(line) }),
      http: staticFiles(publicFolder()),
      host: '127.0.0.1',
      port: 0,
      logger: quiet,
    });
    const { port } = await app.listen();
    url = `http://127.0.0.1:${port}/`;
    browser = await launchChromiumWithMicrophone();
    page = await browser.newPage();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  // the page keeps its counters on window.rxcrewDemo (expressions run in the page)
  const counter = (name: 'agentSeconds' | 'micSeconds' | 'interrupts') => page.evaluate(`window.rxcrewDemo.${name}`) as Promise<number>;
  const until = (expression: string) => page.waitForFunction(expression, undefined, { timeout: 15_000 });

  it('connects and gets the greeting as text and as audio', async () => {
    await page.goto(url);
    await page.waitForSelector('#status[data-state="ready"]', { timeout: 15_000 });
    await page.waitForSelector('#messages li.agent:has-text("Hello!")', { timeout: 15_000 });
    await until('window.rxcrewDemo.agentSeconds > 1');
    expect(await counter('agentSeconds')).toBeGreaterThan(1);
  }, 60_000);

  it('answers a typed message', async () => {
    await page.fill('#text', 'hello');
    await page.press('#text', 'Enter');
    await page.waitForSelector('#messages li.user:has-text("hello")');
    // the scripted model's answer to a greeting, streamed into a new agent message
    await until("window.rxcrewDemo.events.includes('in agent.llm.response.end')");
    expect(await page.textContent('#messages li.agent:nth-of-type(1) ~ li.agent')).not.toBe('');
    const events = (await page.evaluate('window.rxcrewDemo.events')) as string[];
    expect(events).toEqual(expect.arrayContaining(['in agent.llm.response.start', 'in agent.llm.response.chunk', 'in agent.llm.response.end']));
  }, 60_000);

  it('is interrupted when the user speaks while the agent talks (barge-in)', async () => {
    const before = await counter('agentSeconds');
    await page.fill('#text', 'tell me a story');
    await page.press('#text', 'Enter');
    // wait until the story is being played, then open the (fake) microphone
    await until(`window.rxcrewDemo.agentSeconds > ${before + 0.5}`);
    await page.click('#mic');
    await until('window.rxcrewDemo.interrupts > 0');
    expect(await counter('micSeconds')).toBeGreaterThan(0);
    await page.waitForSelector('#messages li.agent.interrupted');
    expect(log.some((line) => line.includes('interrupted (barge-in)'))).toBe(true);
    await page.screenshot({ path: join(tmpdir(), 'rxcrew-voice-demo.png') });
  }, 60_000);
});
