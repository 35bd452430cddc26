import { asyncScheduler, Observable, SchedulerLike, Subscriber, TeardownLogic } from 'rxjs';
import { InvalidArgumentError } from '../errors';
import { CrewEvent, event } from '../events';
import { CrewNode, CrewNodeOptions, NodeContext } from '../node';
import { recordOf } from '../scale/session-record';
import { Conversation, initialMessages } from './conversation';
import type { Tool } from './tool';
import { TurnReporter } from './turn-report';
import { TurnRunner } from './turn-runner';
import type { ChatMessage, Turn, TurnOutput } from './types';

export interface OutputCrewNodeOptions extends CrewNodeOptions {
  /** The first message of every conversation. */
  systemPrompt?: string;
  /** Said (`speak`) when the user joins; a function may read the session's context (e.g. a name). */
  greeting?: string | ((ctx: NodeContext) => string);
  /** Tools the model may call; their results are fed back within the same turn. */
  tools?: Tool[];
  /** Most tool rounds in one turn before it fails. Default 8. */
  maxToolRounds?: number;
  /** Send each turn's figures as `agent.log` {name: 'turn.metrics'} (and give them to the app's metrics). Default `true`. */
  turnMetrics?: boolean;
  /**
   * The clock of the turn figures, and the timer of their wait for voice figures;
   * a `TestScheduler` runs them in virtual time. Default: `performance.now()` and `asyncScheduler`.
   */
  scheduler?: SchedulerLike;
}

/** How long a turn's figures wait for its voice figures (text-to-speech, first audio sent) at most. */
const VOICE_FIGURES_WAIT_MS = 3000;

/**
 * The LLM-driven node: keeps the conversation, answers `system.llm.request`
 * with `agent.llm.response.start` {request_id}, a `chunk` per piece and exactly
 * one `end`, runs tool calls, and is cut off cleanly by
 * `system.control.interrupt` (interruptible by default). After each turn's end
 * it sends the turn's figures, `agent.log` {name: 'turn.metrics', payload:
 * `TurnMetrics`} (in a voice graph once the reply's first audio is out, at most
 * `VOICE_FIGURES_WAIT_MS` later). Create one per session.
 *
 * @example
 * class Assistant extends OutputCrewNode {
 *   async *generateResponse(turn: Turn) {
 *     yield `You said: ${turn.messages.at(-1)?.content}`;
 *   }
 * }
 */
export abstract class OutputCrewNode extends CrewNode {
  readonly systemPrompt: string | undefined;
  private readonly greeting: OutputCrewNodeOptions['greeting'];
  readonly tools: readonly Tool[];
  private readonly maxToolRounds: number;
  private readonly turnMetrics: boolean;
  private readonly scheduler: SchedulerLike | undefined;
  /** What the node said before its output was subscribed to; sent first thing when it is. */
  private pending: CrewEvent[] | undefined;
  /** The subscriber of the node's output (still kept once closed: what comes later is dropped). */
  private live: Subscriber<CrewEvent> | undefined;
  private ended = false;
  /** The turns of the current subscription of the node's output, made by its first request. */
  private runner: TurnRunner | undefined;
  /** Made when the node is wired into a session (a second wiring is refused). */
  private conversation: Conversation | undefined;
  /** Requests accepted and not yet answered, in order (kept in the session's store: a resumed session answers them again). */
  private requests: CrewEvent[] = [];
  /** Told when `requests` changed (saves the node's entry in the store; nothing without one). */
  private requestsChanged: () => void = noop;
  /** A resumed session's conversation came back from the store, with these requests to answer again; `undefined` otherwise. */
  private resumedRequests: CrewEvent[] | undefined;

  constructor(options: OutputCrewNodeOptions = {}) {
    super(options);
    this.systemPrompt = options.systemPrompt;
    this.greeting = options.greeting;
    const tools = [...(options.tools ?? [])];
    this.tools = tools.length > 0 ? tools : NO_TOOLS;
    const names = new Set<string>();
    for (const t of this.tools) {
      if (names.has(t.name)) throw new InvalidArgumentError(`OutputCrewNode: two tools are named "${t.name}"`);
      names.add(t.name);
    }
    this.maxToolRounds = options.maxToolRounds ?? 8;
    this.turnMetrics = options.turnMetrics ?? true;
    this.scheduler = options.scheduler;
  }

  /** Produces one turn's reply: text pieces, or tool calls to run (then it is called again). */
  abstract generateResponse(turn: Turn): AsyncIterable<TurnOutput> | Observable<TurnOutput>;

  /** The conversation as the node keeps it (a copy). */
  get messages(): ChatMessage[] {
    return this.conversation ? [...this.conversation.messages] : initialMessages(this.systemPrompt);
  }

  /** Whether `endCall()` or `transferCall()` was called: no further turns start. */
  get hasEnded(): boolean {
    return this.ended;
  }

  /** Says `text` (`agent.speak`) and records it as an assistant message. */
  speak(text: string): void {
    this.conversation?.said(text);
    this.emit(event('agent.speak', { text }));
  }

  /**
   * Sends `agent.end_call`; the node answers no further requests. Called during
   * a turn (from a tool, say), it is sent right after that turn's end, so the
   * goodbye is heard before the call ends.
   */
  endCall(): void {
    if (this.ended) return;
    this.ended = true;
    this.emitAfterTurn(event('agent.end_call'));
  }

  /** Sends `agent.transfer_call`; the node answers no further requests. */
  transferCall(number: string, options: Record<string, unknown> = {}): void {
    if (this.ended) return;
    this.ended = true;
    const { on_hold_music, ...transferOptions } = options;
    this.emitAfterTurn(
      event('agent.transfer_call', {
        transfer_call_number: number,
        transfer_options: transferOptions,
        ...(typeof on_hold_music === 'string' ? { on_hold_music } : {}),
      }),
    );
  }

  process(input$: Observable<CrewEvent>, ctx: NodeContext): Observable<CrewEvent> {
    if (this.conversation) {
      throw new InvalidArgumentError(`OutputCrewNode "${this.name}" already serves a session; create one instance per session`);
    }
    const conversation = (this.conversation = new Conversation(this.systemPrompt));
    this.keepInStore(conversation, ctx);
    return new Observable<CrewEvent>((subscriber) => this.serve(input$, ctx, conversation, subscriber));
  }

  /**
   * Runs the node for a subscriber of its output: the input is recorded in the
   * conversation and its requests go to a turn runner, which `ctx.interrupt$`
   * and the user leaving cut short (the runtime gives a node with
   * `interruptible: false` an `interrupt$` that never emits). The runner is
   * made by the first request: RxJS subscriptions cost hundreds of bytes each,
   * and an idle session keeps only the two made here. The output does not
   * complete (`speak()` may come at any time); unsubscribing aborts the turn
   * in flight and drops the queue.
   */
  private serve(input$: Observable<CrewEvent>, ctx: NodeContext, conversation: Conversation, subscriber: Subscriber<CrewEvent>): TeardownLogic {
    const pending = this.pending;
    this.pending = undefined;
    this.live = subscriber;
    let runner: TurnRunner | undefined;
    // subscribed now, as nodes are wired, so that every node hears an interrupt in wiring order
    const interruption = ctx.interrupt$.subscribe(() => {
      runner?.interrupt();
      // cut short by the user: not to be answered again on resume
      if (this.requests.length > 0) this.settle(undefined);
    });
    const input = input$.subscribe({
      next: (e) => {
        try {
          if (e.type === 'system.user.left') runner?.interrupt(); // stops the turn like an interrupt
          const requests = e.type === 'system.session.resumed' ? this.takeResumedRequests() : this.receive(e, ctx, conversation) ? [e] : NO_EVENTS;
          for (const request of requests) {
            if (runner === undefined) {
              runner = this.runnerFor(conversation, ctx, subscriber);
              this.runner = runner;
            }
            this.requests.push(request);
            this.requestsChanged();
            runner.request(request);
          }
        } catch (err) {
          subscriber.error(err);
        }
      },
      error: (err: unknown) => subscriber.error(err),
    });
    if (pending) for (const e of pending) subscriber.next(e);
    return () => {
      interruption.unsubscribe();
      input.unsubscribe();
      if (this.runner === runner) this.runner = undefined;
      runner?.dispose();
    };
  }

  /** The turns of this subscription of the output, with their figures' reporter (unless turned off). */
  private runnerFor(conversation: Conversation, ctx: NodeContext, output: Subscriber<CrewEvent>): TurnRunner {
    const scheduler = this.scheduler;
    const now = scheduler === undefined ? () => performance.now() : () => scheduler.now();
    const session = ctx.session;
    const reporter = this.turnMetrics
      ? new TurnReporter(session, scheduler ?? asyncScheduler, VOICE_FIGURES_WAIT_MS, (e) => output.next(e))
      : undefined;
    return new TurnRunner(this, conversation, ctx, this.maxToolRounds, output, now, reporter, (request) => this.settle(request));
  }

  /**
   * With a session store: the conversation and the requests not yet answered
   * are saved after each change, and a resumed session's come back (no greeting
   * then: the user heard it; its requests are answered again on `system.session.resumed`).
   */
  private keepInStore(conversation: Conversation, ctx: NodeContext): void {
    const record = recordOf(ctx.session);
    if (record === undefined) return;
    const kept = record.restored?.conversations[this.name] as { messages?: unknown; requests?: unknown } | undefined;
    if (kept !== undefined && Array.isArray(kept.messages)) {
      conversation.restore(kept.messages as ChatMessage[]);
      this.resumedRequests = Array.isArray(kept.requests) ? (kept.requests as CrewEvent[]) : [];
    }
    const changed = record.keep(this.name, () => ({ messages: conversation.messages, requests: this.requests }));
    conversation.changed = changed;
    this.requestsChanged = changed;
  }

  /** The requests a resumed session answers again (once). */
  private takeResumedRequests(): readonly CrewEvent[] {
    const requests = this.resumedRequests;
    if (requests === undefined || requests.length === 0) return NO_EVENTS;
    this.resumedRequests = [];
    return this.ended ? NO_EVENTS : requests;
  }

  /** A request's turn is over (`undefined`: every request, after an interrupt). */
  private settle(request: CrewEvent | undefined): void {
    if (request === undefined) this.requests = [];
    else {
      const at = this.requests.indexOf(request);
      if (at < 0) return;
      this.requests.splice(at, 1);
    }
    this.requestsChanged();
  }

  /** Conversation bookkeeping; true for a request to answer. */
  private receive(e: CrewEvent, ctx: NodeContext, conversation: Conversation): boolean {
    if (e.type === 'system.user.joined') {
      if (this.greeting !== undefined && !this.ended && this.resumedRequests === undefined) this.speak(typeof this.greeting === 'function' ? this.greeting(ctx) : this.greeting);
    } else if (e.type === 'agent.transcript.update') {
      conversation.transcript(e);
    } else if (e.type === 'system.llm.request' && !this.ended) {
      // the client's conversation replaces ours
      if (Array.isArray(e.messages)) conversation.replace(e.messages as ChatMessage[]);
      return true;
    }
    return false;
  }

  /** Sends `e` now, or right after the end of the turn in flight. */
  private emitAfterTurn(e: CrewEvent): void {
    if (!this.runner?.holdUntilTurnEnds(e)) this.emit(e);
  }

  private emit(e: CrewEvent): void {
    if (this.live) this.live.next(e);
    else (this.pending ??= []).push(e);
  }
}

const NO_EVENTS: readonly CrewEvent[] = Object.freeze([]);

function noop(): void {}

/** The tools of a node that has none, shared. */
const NO_TOOLS: readonly Tool[] = Object.freeze([]);
