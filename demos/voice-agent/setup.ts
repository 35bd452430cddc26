import { CrewSession } from 'rxcrew';
import { defaultResponder } from 'rxcrew/llm';
import { AudioPacer, SpeechToText, TextToSpeech, VoiceActivity } from 'rxcrew/voice';
import type { SttEngine, TtsEngine } from 'rxcrew/voice';
import { VoiceAssistant, VoiceAssistantOptions } from './assistant';

export interface VoiceSetupOptions extends VoiceAssistantOptions {
  /** Where the hooks write. Default `console.log`. */
  log?: (line: string) => void;
  /** Text-to-speech. Default: the embedded engine (mespeak). */
  tts?: TtsEngine;
  /** Speech-to-text; without one the page's text box is the way to talk. */
  stt?: SttEngine;
  /** How long to wait for the page's `system.init` (ms). Default 1000. */
  initTimeout?: number;
}

/**
 * The voice demo's graph, per connection:
 *
 * ```
 * root ─▶ VoiceActivity ─▶ VoiceAssistant ─▶ TextToSpeech ─▶ AudioPacer ─▶ sink
 *   └──▶ SpeechToText (with a key): final transcripts are injected at the root
 * ```
 *
 * VoiceActivity takes the microphone audio (nothing echoes back), tells the page
 * when the user speaks, and injects an interrupt when the user talks over the
 * agent (barge-in). The assistant's text becomes speech, paced at real time so
 * that an interrupt drops what the user has not heard yet.
 */
export function createVoiceSetup(options: VoiceSetupOptions = {}): (session: CrewSession) => Promise<void> {
  const log = options.log ?? ((line: string) => console.log(line));
  // one model for the whole server: it keeps no per-call state (each session keeps its conversation)
  const responder = options.responder ?? defaultResponder();
  return async function setup(session: CrewSession): Promise<void> {
    const vad = new VoiceActivity();
    const agent = new VoiceAssistant({ responder });
    const tts = new TextToSpeech(options.tts ? { engine: options.tts } : {});
    const pacer = new AudioPacer();
    session.addNode(vad).addNode(agent).addNode(tts).addNode(pacer);
    session.addEdge(vad, agent).addEdge(agent, tts).addEdge(tts, pacer);
    if (options.stt) session.addNode(new SpeechToText({ engine: options.stt }));

    // the page shows when the user speaks, and what speech-to-text heard
    session.onEvent('system.user.started_speaking', (s, e) => s.send(e));
    session.onEvent('system.user.stopped_speaking', (s, e) => s.send(e));
    session.onEvent('system.control.interrupt', (_s, e) => log(`session ${session.id}: interrupted (${String(e.reason ?? 'client')})`));
    session.onEvent('system.user.joined', () => log(`session ${session.id}: joined`));

    await session.waitForInit(options.initTimeout ?? 1000);
    await session.start();
  };
}
