import { CrewSession, OutputCrewNode, Responder, Turn, TurnOutput } from 'rxcrew';
import { defaultResponder } from 'rxcrew/llm';
import { SpeechToText, TextToSpeech, VoiceActivity } from 'rxcrew/voice';
import type { SttEngine, TtsEngine } from 'rxcrew/voice';
import type { Observable } from 'rxjs';

export const PHONE_GREETING = 'Hello, you have reached the rxcrew phone demo. Press a key, or talk to me. Press the hash key to hang up.';

export interface PhoneSetupOptions {
  responder?: Responder;
  tts?: TtsEngine;
  /** Speech-to-text (8 kHz from the phone line); without one the caller is heard only by VAD and keys. */
  stt?: SttEngine;
  log?: (line: string) => void;
}

/** The phone demo's agent: the voice demo's, with a greeting that says who called when the webhook passed `from`. */
class PhoneAssistant extends OutputCrewNode {
  constructor(private readonly respond: Responder) {
    super({
      systemPrompt: 'You are a friendly phone assistant. Answer in one or two short sentences.',
      greeting: (ctx) => (ctx.context.get('from') ? `${PHONE_GREETING} You are calling from ${String(ctx.context.get('from'))}.` : PHONE_GREETING),
    });
  }

  generateResponse(turn: Turn): AsyncIterable<TurnOutput> | Observable<TurnOutput> {
    return this.respond(turn);
  }
}

/**
 * One call's graph (the Twilio transport paces the audio, sends a mark after
 * each chunk and clears on barge-in):
 *
 * ```
 * root ─▶ VoiceActivity ─▶ PhoneAssistant ─▶ TextToSpeech ─▶ sink (Twilio)
 * ```
 *
 * Keys: `#` says goodbye and hangs up once it has been heard; any other key is
 * read back.
 */
export function createPhoneSetup(options: PhoneSetupOptions = {}): (session: CrewSession) => Promise<void> {
  const responder = options.responder ?? defaultResponder();
  const log = options.log ?? ((line: string) => console.log(line));
  return async (session) => {
    const vad = new VoiceActivity();
    const agent = new PhoneAssistant(responder);
    const tts = new TextToSpeech(options.tts ? { engine: options.tts } : {});
    session.addNode(vad).addNode(agent).addNode(tts);
    session.addEdge(vad, agent).addEdge(agent, tts);
    if (options.stt) session.addNode(new SpeechToText({ engine: options.stt }));
    session.onEvent('system.user.joined', (s) => log(`call ${String(s.context.get('call_sid'))}: joined`));
    session.onEvent('system.user.left', (s, e) => log(`call ${String(s.context.get('call_sid'))}: left (${String(e.reason)})`));
    session.onEvent('system.control.interrupt', (s) => log(`call ${String(s.context.get('call_sid'))}: barge-in, clear sent`));
    session.onEvent('system.user.dtmf', (_s, e) => {
      if (e.digit === '#') {
        agent.speak('Goodbye, and thanks for calling.');
        agent.endCall();
      } else {
        agent.speak(`You pressed ${String(e.digit)}.`);
      }
    });
    await session.start();
  };
}
