import { Worker } from 'node:worker_threads';
import { abortError } from './engine';

/*
 * mespeak (eSpeak compiled to JavaScript) synthesizes synchronously: 50–250 ms
 * of CPU for a sentence. On the main thread that would freeze every session's
 * sockets and audio pacing for as long, so it runs in one worker thread,
 * shared by every MespeakEngine of the process: its data (≈5 MB of code and
 * phoneme tables) is loaded once. Requests wait in a queue here, one in the
 * worker at a time, so an aborted request that has not started costs nothing.
 *
 * The worker is plain JavaScript given as a string, so it runs the same from
 * TypeScript (ts-node, ts-jest) and from the compiled `dist/`.
 *
 * An eSpeak instance breaks after ~76 calls (English; ~85 for smaller
 * dictionaries), whatever the text: it reads its own dictionary as garbage and
 * V8 aborts the whole process (mespeak 2.0.2, Node 20). mespeak's recovery for
 * this known "80th call" bug is not wired up in the npm package. So the
 * worker makes a fresh instance every RECYCLE_AFTER calls (~25 ms; the
 * old one is collected), evaluating mespeak's module source anew rather than
 * going through `require`, whose cache and `module.children` would keep every
 * old 50 MB heap alive.
 */
const RECYCLE_AFTER = 32;

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { readFileSync } = require('node:fs');
const { createRequire } = require('node:module');
const mespeakModule = new Function('require', 'module', 'exports', readFileSync(workerData.mespeak, 'utf8'));
const mespeakRequire = createRequire(workerData.mespeak);
const config = require(workerData.config);
let meSpeak;
let calls = 0;
let loaded;

function freshMespeak() {
  const module = { exports: {} };
  const warn = console.warn;
  console.warn = () => {}; // mespeak warns that it cannot play audio outside a browser
  try {
    mespeakModule(mespeakRequire, module, module.exports);
  } finally {
    console.warn = warn;
  }
  module.exports.loadConfig(config);
  calls = 0;
  loaded = new Set();
  return module.exports;
}

parentPort.on('message', ({ id, text, voiceFile, args }) => {
  try {
    if (meSpeak === undefined || calls >= workerData.recycleAfter) meSpeak = freshMespeak();
    calls++;
    if (!loaded.has(voiceFile)) {
      meSpeak.loadVoice(require(voiceFile));
      loaded.add(voiceFile);
    }
    const data = meSpeak.speak(text, { ...args, rawdata: 'array' });
    if (!data) throw new Error('mespeak produced no audio');
    const wav = Uint8Array.from(data);
    parentPort.postMessage({ id, wav }, [wav.buffer]);
  } catch (err) {
    meSpeak = undefined; // a failed call may have left eSpeak in a bad state
    parentPort.postMessage({ id, error: String((err && err.message) || err) });
  }
});
`;

/** mespeak's `speak()` options that the engine passes on. */
export interface MespeakArgs {
  voice: string;
  speed: number;
  pitch: number;
  amplitude: number;
  wordgap: number;
  variant?: string;
}

interface Job {
  id: number;
  text: string;
  voiceFile: string;
  args: MespeakArgs;
  signal: AbortSignal;
  resolve(wav: Buffer): void;
  reject(err: Error): void;
  onAbort(): void;
}

class MespeakThread {
  private worker: Worker | undefined;
  private readonly queue: Job[] = [];
  private current: Job | undefined;
  private nextId = 1;

  /** Synthesizes `text`; resolves with mespeak's WAV file (16-bit mono, 22,050 Hz). */
  speak(text: string, voiceFile: string, args: MespeakArgs, signal: AbortSignal): Promise<Buffer> {
    if (signal.aborted) return Promise.reject(abortError(signal));
    return new Promise<Buffer>((resolve, reject) => {
      const job: Job = {
        id: this.nextId++,
        text,
        voiceFile,
        args,
        signal,
        resolve,
        reject,
        onAbort: () => {
          // a queued job never reaches the worker; the one in the worker finishes unheard
          const queued = this.queue.indexOf(job);
          if (queued !== -1) this.queue.splice(queued, 1);
          reject(abortError(signal));
          this.updateRef();
        },
      };
      signal.addEventListener('abort', job.onAbort, { once: true });
      this.queue.push(job);
      this.pump();
    });
  }

  /** Ends the worker; queued and running requests fail. The next request starts a new one. */
  async terminate(): Promise<void> {
    const worker = this.worker;
    if (worker === undefined) return;
    this.failAll(new Error('the mespeak worker was terminated'));
    this.worker = undefined;
    await worker.terminate();
  }

  private pump(): void {
    const job = this.current === undefined ? this.queue.shift() : undefined;
    if (job !== undefined) {
      this.current = job;
      this.start().postMessage({ id: job.id, text: job.text, voiceFile: job.voiceFile, args: job.args });
    }
    this.updateRef();
  }

  private start(): Worker {
    if (this.worker !== undefined) return this.worker;
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        mespeak: require.resolve('mespeak'),
        config: require.resolve('mespeak/src/mespeak_config.json'),
        recycleAfter: RECYCLE_AFTER,
      },
    });
    worker.on('message', (message: { id: number; wav?: Uint8Array; error?: string }) => {
      const job = this.current;
      if (job === undefined || job.id !== message.id) return;
      this.current = undefined;
      this.settle(job, message);
      this.pump();
    });
    const crash = (err: Error) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.failAll(err);
    };
    worker.on('error', (err) => crash(new Error(`the mespeak worker failed: ${err.message}`)));
    worker.on('exit', (code) => crash(new Error(`the mespeak worker exited (code ${code})`)));
    this.worker = worker;
    return worker;
  }

  private settle(job: Job, message: { wav?: Uint8Array; error?: string }): void {
    job.signal.removeEventListener('abort', job.onAbort);
    if (job.signal.aborted) return; // already rejected
    if (message.wav) job.resolve(Buffer.from(message.wav.buffer, message.wav.byteOffset, message.wav.byteLength));
    else job.reject(new Error(`mespeak: ${message.error ?? 'unknown failure'}`));
  }

  private failAll(err: Error): void {
    const jobs = [...(this.current ? [this.current] : []), ...this.queue.splice(0)];
    this.current = undefined;
    for (const job of jobs) {
      job.signal.removeEventListener('abort', job.onAbort);
      if (!job.signal.aborted) job.reject(err);
    }
  }

  /** An idle worker must not keep the process alive. */
  private updateRef(): void {
    if (this.current !== undefined || this.queue.length > 0) this.worker?.ref();
    else this.worker?.unref();
  }
}

/** The process's one mespeak thread (started at its first request). */
export const mespeakThread = new MespeakThread();
