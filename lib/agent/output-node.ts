import { randomUUID } from 'node:crypto';
import { Observable, Subscriber, TeardownLogic } from 'rxjs';
import { describeError, ErrorCodes, errorClass, InterruptedError, InvalidArgumentError } from '../errors';
import { CrewEvent, event } from '../events';
import { CrewNode, CrewNodeOptions, NodeContext } from '../node';
import { runToolCall, Tool } from './tool';
import type { ChatMessage, ToolCall, Turn, TurnOutput } from './types';
import { forEachOutput } from './drive';

export interface OutputCrewNodeOptions extends CrewNodeOptions {
  /** The first message of every conversation. */
  systemPrompt?: string;
  /** Said (`speak`) when the user joins; a function may read the session's context (e.g. a name). */
  greeting?: string | ((ctx: NodeContext) => string);
  /** Tools the model may call; their results are fed back within the same turn. */
  tools?: Tool[];
  /** Most tool rounds in one turn before it fails. Default 8. */
  maxToolRounds?: number;
}

/** Per-session conversation state (an OutputCrewNode instance serves one session). */
interface Conversation {
  messages: ChatMessage[];
  /** Index in `messages` of the node's own last reply, until the client's transcript replaces it. */
  lastReply: number | undefined;
  /** Text sent so far in the turn in flight. */
  sent: string;
}

/**
 * The LLM-driven node: keeps the conversation, answers `system.llm.request`
 * with `agent.llm.response.start` {request_id}, a `chunk` per piece and exactly
 * one `end`, runs tool calls, and is cut off cleanly by
 * `system.control.interrupt` (interruptible by default). Create one per session.
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
  /** The tools by name, made when the model first calls one. */
  private toolsByName: ReadonlyMap<string, Tool> | undefined;
  private readonly maxToolRounds: number;
  /** What the node said before its output was subscribed to; sent first thing when it is. */
  private pending: CrewEvent[] | undefined;
  /** The subscriber of the node's output (still kept once closed: what comes later is dropped). */
  private live: Subscriber<CrewEvent> | undefined;
  private ended = false;
  /** The turn in flight: aborting it cuts the turn short. */
  private turn: AbortController | undefined;
  /** Requests waiting for the turn in flight, in arrival order (made by the first request). */
  private queue: CrewEvent[] | undefined;
  /** Set while a turn runs: end-call and transfer wait for its end. */
  private afterTurn: CrewEvent[] | undefined;
  /** Made when the node is wired into a session (a second wiring is refused). */
  private conversation: Conversation | undefined;

  constructor(options: OutputCrewNodeOptions = {}) {
    super({ interruptible: true, ...options });
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
  }

  /** Produces one turn's reply: text pieces, or tool calls to run (then it is called again). */
  abstract generateResponse(turn: Turn): AsyncIterable<TurnOutput> | Observable<TurnOutput>;

  /** The conversation as the node keeps it (a copy). */
  get messages(): ChatMessage[] {
    return this.conversation ? [...this.conversation.messages] : this.initialMessages();
  }

  /** Whether `endCall()` or `transferCall()` was called: no further turns start. */
  get hasEnded(): boolean {
    return this.ended;
  }

  /** Says `text` (`agent.speak`) and records it as an assistant message. */
  speak(text: string): void {
    this.conversation?.messages.push({ role: 'assistant', content: text });
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
    this.conversation = { messages: this.initialMessages(), lastReply: undefined, sent: '' };
    // no operator chain: an idle session keeps this Observable and its two subscriptions
    return new Observable<CrewEvent>((subscriber) => this.serve(input$, ctx, subscriber));
  }

  /**
   * Runs the node for a subscriber of its output: one subscription to the input
   * (bookkeeping, the request queue, the user leaving) and, if interruptible, one
   * to `ctx.interrupt$`. The output does not complete (`speak()` may come at any
   * time); unsubscribing aborts the turn in flight and drops the queue.
   */
  private serve(input$: Observable<CrewEvent>, ctx: NodeContext, subscriber: Subscriber<CrewEvent>): TeardownLogic {
    const pending = this.pending;
    this.pending = undefined;
    this.live = subscriber;
    const interruption = this.interruptible ? ctx.interrupt$.subscribe(() => this.interrupt(subscriber)) : undefined;
    const input = input$.subscribe({
      next: (e) => {
        try {
          this.receive(e, subscriber, ctx);
        } catch (err) {
          subscriber.error(err);
        }
      },
      error: (err: unknown) => subscriber.error(err),
    });
    if (pending) for (const e of pending) subscriber.next(e);
    return () => {
      interruption?.unsubscribe();
      input.unsubscribe();
      this.queue = undefined;
      this.afterTurn = undefined;
      const turn = this.turn;
      this.turn = undefined;
      turn?.abort(new InterruptedError('unsubscribed'));
    };
  }

  /** An input event: the user leaving stops the turn, then bookkeeping, then a request waits its turn. */
  private receive(e: CrewEvent, subscriber: Subscriber<CrewEvent>, ctx: NodeContext): void {
    if (e.type === 'system.user.left') this.interrupt(subscriber);
    this.record(e, ctx);
    if (e.type === 'system.llm.request' && !this.ended) {
      (this.queue ??= []).push(e);
      this.startTurns(subscriber, ctx);
    }
  }

  /** Starts the queued requests, one at a time: each waits for the end of the one before. */
  private startTurns(subscriber: Subscriber<CrewEvent>, ctx: NodeContext): void {
    while (this.turn === undefined && this.queue?.length && !subscriber.closed) {
      const request = this.queue.shift()!;
      if (!this.ended) this.runTurn(request, subscriber, ctx); // ended while it waited: no further turns
    }
  }

  /**
   * An interrupt (or the user leaving): drops the queued requests and aborts the
   * turn in flight, if any — its signal fires now — then closes it with its one end.
   */
  private interrupt(subscriber: Subscriber<CrewEvent>): void {
    this.queue = undefined;
    const turn = this.turn;
    if (turn === undefined) return;
    this.turn = undefined;
    turn.abort(new InterruptedError());
    this.keepReply(this.conversation!.sent);
    for (const e of this.closeTurn(event('agent.llm.response.end', { interrupted: true }))) subscriber.next(e);
  }

  private initialMessages(): ChatMessage[] {
    return this.systemPrompt === undefined ? [] : [{ role: 'system', content: this.systemPrompt }];
  }

  private emitAfterTurn(e: CrewEvent): void {
    if (this.afterTurn) this.afterTurn.push(e);
    else this.emit(e);
  }

  /** The turn's closing events: its one end, then what waited for it. */
  private closeTurn(end: CrewEvent): CrewEvent[] {
    const waiting = this.afterTurn ?? [];
    this.afterTurn = undefined;
    return [end, ...waiting];
  }

  private emit(e: CrewEvent): void {
    if (this.live) this.live.next(e);
    else (this.pending ??= []).push(e);
  }

  /** Conversation bookkeeping for events that are not requests. */
  private record(e: CrewEvent, ctx: NodeContext): void {
    const conversation = this.conversation!;
    if (e.type === 'system.user.joined' && this.greeting !== undefined && !this.ended) {
      this.speak(typeof this.greeting === 'function' ? this.greeting(ctx) : this.greeting);
    } else if (e.type === 'agent.transcript.update') {
      const content = String(e.content ?? '');
      if (e.role === 'assistant' && conversation.lastReply !== undefined) {
        conversation.messages[conversation.lastReply] = { role: 'assistant', content };
        conversation.lastReply = undefined;
      } else if (e.role === 'user' || e.role === 'assistant') {
        conversation.messages.push({ role: e.role, content });
      }
    } else if (e.type === 'system.llm.request' && Array.isArray(e.messages) && !this.ended) {
      // the client's conversation replaces ours; our system prompt stays first
      conversation.messages = [...this.initialMessages(), ...(e.messages as ChatMessage[]).map(toChatMessage)];
      conversation.lastReply = undefined;
    }
  }

  /** Records the node's reply (only what was actually sent). */
  private keepReply(text: string, exchange: ChatMessage[] = []): void {
    const conversation = this.conversation!;
    conversation.messages.push(...exchange);
    conversation.sent = '';
    if (text === '') return;
    conversation.messages.push({ role: 'assistant', content: text });
    conversation.lastReply = conversation.messages.length - 1;
  }

  /**
   * Answers `request`: its start now, a chunk per piece, and its end when the
   * turn finishes — unless the turn is stopped first, which closes it instead.
   */
  private runTurn(request: CrewEvent, subscriber: Subscriber<CrewEvent>, ctx: NodeContext): void {
    const conversation = this.conversation!;
    const controller = new AbortController();
    const signal = controller.signal;
    this.turn = controller;
    // once the turn is stopped, what it still produces is dropped
    const send = (e: CrewEvent): void => {
      if (!signal.aborted) subscriber.next(e);
    };
    const requestId = typeof request.request_id === 'string' ? request.request_id : randomUUID();
    const extraParams = request.extra_params as Record<string, unknown> | undefined;
    const base = [...conversation.messages];
    const exchange: ChatMessage[] = []; // tool calls and results of this turn
    let finalText = ''; // the reply after the last tool round
    conversation.sent = '';
    this.afterTurn = [];
    subscriber.next(event('agent.llm.response.start', { request_id: requestId }));

    const run = async () => {
      for (let round = 0; ; round++) {
        const turn: Turn = {
          messages: [...base, ...exchange],
          signal,
          requestId,
          session: ctx.session,
          tools: this.tools.map((t) => t.spec),
          ...(extraParams ? { extraParams } : {}),
        };
        let roundText = '';
        const calls: ToolCall[] = [];
        await forEachOutput(this.generateResponse(turn), signal, (out) => {
          if (typeof out === 'string') {
            if (out === '') return;
            roundText += out;
            conversation.sent += out;
            send(event('agent.llm.response.chunk', { text: out }));
          } else if (out && Array.isArray(out.tool_calls)) {
            calls.push(...out.tool_calls);
          }
        });
        finalText = roundText;
        if (signal.aborted || calls.length === 0) return;
        if (round >= this.maxToolRounds) throw new Error(`the model asked for tools more than ${this.maxToolRounds} times in one turn`);
        exchange.push({ role: 'assistant', content: roundText, tool_calls: calls });
        exchange.push(...(await this.runTools(calls, signal, ctx, send)));
      }
    };

    /** Sends the end and what waited for it, then the next queued request starts. */
    const finish = (): void => {
      // the turn is over before its end goes out: an interrupt caused by the end
      // (a hook, say) finds no turn, so the turn still has exactly one end
      if (this.turn === controller) this.turn = undefined;
      for (const e of this.closeTurn(event('agent.llm.response.end'))) subscriber.next(e);
      this.startTurns(subscriber, ctx);
    };

    run().then(
      () => {
        if (signal.aborted) return;
        this.keepReply(finalText, exchange);
        finish();
      },
      (err: unknown) => {
        if (signal.aborted) return;
        subscriber.next(
          event('agent.error', {
            message: `node "${this.name}" failed to answer: ${describeError(err)}`,
            severity: 'warning',
            payload: { code: ErrorCodes.NODE_FAILED, node_name: this.name, error_class: errorClass(err), message: describeError(err) },
          }),
        );
        this.keepReply(conversation.sent);
        finish();
      },
    );
  }

  /** Runs the calls in parallel; each outcome is logged, and every result is fed back. */
  private async runTools(calls: ToolCall[], signal: AbortSignal, ctx: NodeContext, emit: (e: CrewEvent) => void): Promise<ChatMessage[]> {
    const toolsByName = (this.toolsByName ??= new Map(this.tools.map((t) => [t.name, t])));
    return Promise.all(
      calls.map((call) => {
        const tool = call.function?.name;
        emit(event('agent.log', { name: 'tool_call_start', payload: { tool, call_id: call.id, arguments: call.function?.arguments } }));
        return runToolCall(toolsByName, call, { session: ctx.session, node: this, signal, toolCallId: call.id }).then((outcome) => {
          if (!signal.aborted) {
            const payload = outcome.ok
              ? { tool, call_id: call.id, result: outcome.result }
              : { tool, call_id: call.id, error: outcome.error, error_class: outcome.errorClass };
            emit(event('agent.log', { name: outcome.ok ? 'tool_call_end' : 'tool_call_error', payload }));
          }
          return outcome.message;
        });
      }),
    );
  }
}

/** The tools of a node that has none, shared. */
const NO_TOOLS: readonly Tool[] = Object.freeze([]);

function toChatMessage(m: ChatMessage): ChatMessage {
  return { ...m, content: m.content ?? '' };
}
