import { Observable } from 'rxjs';
import { OutputCrewNode, Responder, Turn, TurnOutput } from 'rxcrew';
import { defaultResponder } from 'rxcrew/llm';

export const GREETING =
  "Hello! I'm the rxcrew voice demo. Type a message, or start the microphone and talk to me. Ask me for a story, then interrupt me.";

export interface VoiceAssistantOptions {
  /** The model. Default: a real one when `OPENAI_API_KEY`/`OPENAI_BASE_URL` is set, else the embedded script. */
  responder?: Responder;
}

/**
 * The voice demo's agent: greets the caller on `system.user.joined` and answers
 * with the default responder (the embedded scripted model without keys). Its
 * text goes on to text-to-speech; interruptions cut it short.
 */
export class VoiceAssistant extends OutputCrewNode {
  private readonly respond: Responder;

  constructor(options: VoiceAssistantOptions = {}) {
    super({ systemPrompt: 'You are a friendly voice assistant. Answer in one to three short sentences.', greeting: GREETING });
    this.respond = options.responder ?? defaultResponder();
  }

  generateResponse(turn: Turn): AsyncIterable<TurnOutput> | Observable<TurnOutput> {
    return this.respond(turn);
  }
}
