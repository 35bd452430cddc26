import { ignoreElements, merge, Observable, tap } from 'rxjs';
import { CrewEvent, defaultResponder, NodeContext, OutputCrewNode, Responder, Turn, TurnOutput } from 'rxcrew';
import { ofType } from 'rxcrew/operators';

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
    super({ systemPrompt: 'You are a friendly voice assistant. Answer in one to three short sentences.' });
    this.respond = options.responder ?? defaultResponder();
  }

  generateResponse(turn: Turn): AsyncIterable<TurnOutput> | Observable<TurnOutput> {
    return this.respond(turn);
  }

  override process(input$: Observable<CrewEvent>, ctx: NodeContext): Observable<CrewEvent> {
    const greeting$ = input$.pipe(
      ofType('system.user.joined'),
      tap(() => this.speak(GREETING)),
      ignoreElements(),
    );
    return merge(super.process(input$, ctx), greeting$);
  }
}
