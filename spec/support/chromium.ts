import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Browser, chromium } from 'playwright-core';
import { silence, tone, wav } from './pcm';

/** Debian's Chromium (installed by .ci/run), or `$CHROMIUM_PATH`. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** `describe`, or `describe.skip` on a developer machine without Chromium; under CI (which installs it) it always runs. */
export const describeIfChromium = existsSync(CHROMIUM) || process.env.CI ? describe : describe.skip;

/** The flags every browser spec runs with: headless, nothing fetched from the network. */
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Chromium, headless, with nothing fetched from the network. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
}

/**
 * Chromium with a fake microphone that plays (looped) "speech": loud bursts
 * with pauses, written to a WAV here; audio plays without a user gesture.
 */
export function launchChromiumWithMicrophone(): Promise<Browser> {
  const rate = 48000;
  const micFile = join(mkdtempSync(join(tmpdir(), 'rxcrew-mic-')), 'speech.wav');
  writeFileSync(micFile, wav(Buffer.concat([silence(300, rate), tone(1500, rate, -12, 220), silence(700, rate)]), rate));
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      ...FLAGS,
      '--autoplay-policy=no-user-gesture-required',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${micFile}`,
    ],
  });
}
