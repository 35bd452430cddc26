import { randomUUID } from 'node:crypto';
import { EMPTY, Observable, Subject, Subscriber, Subscription } from 'rxjs';
import { agentError } from '../agent-error';
import { describeError, ErrorCodes } from '../errors';
import { CrewEvent, event } from '../events';
import { interruptibleConcatMap } from '../interruptible-concat-map';
import type { NodeContext } from '../node';
import type { Conversation } from './conversation';
import { forEachOutput } from './drive';
import type { OutputCrewNode } from './output-node';
import { runToolCall, Tool } from './tool';
import { TurnMeasure } from './turn-measure';
import type { TurnReporter } from './turn-report';
import type { ChatMessage, ToolCall, Turn } from './types';

/** The turn in flight, until its end goes out. */
interface InFlight {
  /** The request it answers. */
  request: CrewEvent;
  /** Text sent so far: what the conversation keeps if the turn is interrupted. */
  sent: string;
  /** What waits for the turn's end (end-call, transfer), sent right after it. */
  waiting: CrewEvent[];
  /** The turn's clock (its figures go out after its end). */
  measure: TurnMeasure;
}

/**
 * Runs an `OutputCrewNode`'s turns for one subscription of its output, on
 * `interruptibleConcatMap`: one request at a time in arrival order, each
 * answered with `agent.llm.response.start` {request_id}, a `chunk` per piece
 * (tool rounds in between) and exactly one `end`, then what waited for that end.
 * An interrupt aborts the turn in flight (`turn.signal` fires at once), drops
 * the queued requests and closes the turn with its end (`interrupted: true`);
 * a failure closes it with an `agent.error` and its end. Each turn's figures
 * follow its end (`reporter`, unless the node turned them off). `dispose()`
 * aborts the turn in flight and drops the queue.
 */
export class TurnRunner {
  private readonly requests = new Subject<CrewEvent>();
  private readonly interrupts = new Subject<void>();
  private readonly subscription: Subscription;
  private inFlight: InFlight | undefined;
  /** The tools by name, made when the model first calls one. */
  private toolsByName: ReadonlyMap<string, Tool> | undefined;

  constructor(
    private readonly node: OutputCrewNode,
    private readonly conversation: Conversation,
    private readonly ctx: NodeContext,
    private readonly maxToolRounds: number,
    /** The node's output, for this subscription of it. */
    private readonly output: Subscriber<CrewEvent>,
    /** The node's clock, for the turns' figures. */
    private readonly now: () => number,
    private readonly reporter: TurnReporter | undefined,
    /** Told when a request's turn is over (answered, failed, interrupted, or not run because the node ended). */
    private readonly settled: (request: CrewEvent) => void = () => undefined,
  ) {
    const turns = interruptibleConcatMap((request: CrewEvent, signal) => this.turn(request, signal), this.interrupts, {
      onInterrupt: () => this.interrupted(),
    });
    this.subscription = this.requests.pipe(turns).subscribe({
      next: (e) => output.next(e),
      error: (err: unknown) => output.error(err),
    });
  }

  /** A request to answer, after those before it. */
  request(e: CrewEvent): void {
    this.requests.next(e);
  }

  /** Cuts the turn in flight short and drops the queued requests; figures waiting for voice ones go as they are. */
  interrupt(): void {
    this.reporter?.flush();
    this.interrupts.next();
  }

  /** Aborts the turn in flight (reason `InterruptedError('unsubscribed')`) and drops the queue. */
  dispose(): void {
    this.subscription.unsubscribe();
    this.reporter?.dispose();
  }

  /** Holds `e` until the end of the turn in flight; false when there is none. */
  holdUntilTurnEnds(e: CrewEvent): boolean {
    if (this.inFlight === undefined) return false;
    this.inFlight.waiting.push(e);
    return true;
  }

  /** The interrupted turn's closing events: its end, then what waited for it (none once its end is out). */
  private interrupted(): CrewEvent[] {
    const turn = this.inFlight;
    if (turn === undefined) return [];
    this.inFlight = undefined;
    this.settled(turn.request);
    this.conversation.keepReply(turn.sent);
    const end = event('agent.llm.response.end', { interrupted: true });
    const figures = this.reporter?.ended(turn.measure.end('interrupted'));
    return figures === undefined ? [end, ...turn.waiting] : [end, figures, ...turn.waiting];
  }

  /**
   * One turn: its start now, a chunk per piece, and its end when the model is
   * done — unless the turn is interrupted first, which closes it instead.
   */
  private turn(request: CrewEvent, interrupted: AbortSignal): Observable<CrewEvent> {
    if (this.node.hasEnded) {
      this.settled(request);
      return EMPTY; // ended while it waited: no further turns
    }
    return new Observable<CrewEvent>((subscriber) => {
      // The turn's signal follows the operator's until the turn's end goes out:
      // an interrupt the end itself causes (a hook, say) finds the turn over, so
      // it neither aborts a finished turn nor sends a second end.
      const controller = new AbortController();
      const follow = () => controller.abort(interrupted.reason);
      interrupted.addEventListener('abort', follow, { once: true });
      const requestId = typeof request.request_id === 'string' ? request.request_id : randomUUID();
      const inFlight: InFlight = { request, sent: '', waiting: [], measure: new TurnMeasure(requestId, this.now) };
      this.inFlight = inFlight;
      subscriber.next(event('agent.llm.response.start', { request_id: requestId }));
      this.answer(request, requestId, controller.signal, inFlight, subscriber, (outcome) => {
        interrupted.removeEventListener('abort', follow);
        if (this.inFlight === inFlight) this.inFlight = undefined;
        this.settled(request);
        subscriber.next(event('agent.llm.response.end'));
        const figures = this.reporter?.ended(inFlight.measure.end(outcome));
        if (figures !== undefined) subscriber.next(figures);
        for (const e of inFlight.waiting) this.output.next(e);
        subscriber.complete();
      });
      return () => interrupted.removeEventListener('abort', follow);
    });
  }

  /** Streams the reply, round after round while the model asks for tools, then calls `finish`. */
  private answer(
    request: CrewEvent,
    requestId: string,
    signal: AbortSignal,
    inFlight: InFlight,
    subscriber: Subscriber<CrewEvent>,
    finish: (outcome: 'completed' | 'failed') => void,
  ): void {
    const extraParams = request.extra_params as Record<string, unknown> | undefined;
    const base = [...this.conversation.messages];
    const exchange: ChatMessage[] = []; // tool calls and results of this turn
    let finalText = ''; // the reply after the last tool round
    // once the turn is interrupted, what it still produces is dropped
    const send = (e: CrewEvent): void => {
      if (!signal.aborted) subscriber.next(e);
    };

    const run = async () => {
      for (let round = 0; ; round++) {
        const turn: Turn = {
          messages: [...base, ...exchange],
          signal,
          requestId,
          session: this.ctx.session,
          tools: this.node.tools.map((t) => t.spec),
          ...(extraParams ? { extraParams } : {}),
        };
        let roundText = '';
        const calls: ToolCall[] = [];
        await forEachOutput(this.node.generateResponse(turn), signal, (out) => {
          if (typeof out === 'string') {
            if (out === '') return;
            roundText += out;
            inFlight.sent += out;
            if (signal.aborted) return;
            inFlight.measure.chunk();
            subscriber.next(event('agent.llm.response.chunk', { text: out }));
          } else if (out && Array.isArray(out.tool_calls)) {
            calls.push(...out.tool_calls);
          }
        });
        finalText = roundText;
        if (signal.aborted || calls.length === 0) return;
        if (round >= this.maxToolRounds) throw new Error(`the model asked for tools more than ${this.maxToolRounds} times in one turn`);
        exchange.push({ role: 'assistant', content: roundText, tool_calls: calls });
        inFlight.measure.toolsStarted();
        exchange.push(...(await this.runTools(calls, signal, send)));
        inFlight.measure.toolsEnded();
      }
    };

    run().then(
      () => {
        if (signal.aborted) return;
        this.conversation.keepReply(finalText, exchange);
        finish('completed');
      },
      (err: unknown) => {
        if (signal.aborted) return;
        const name = this.node.name;
        subscriber.next(
          agentError(ErrorCodes.NODE_FAILED, err, {
            message: `node "${name}" failed to answer: ${describeError(err)}`,
            details: { node_name: name },
          }),
        );
        if (signal.aborted) return; // the report caused an interrupt, which closed the turn
        this.conversation.keepReply(inFlight.sent);
        finish('failed');
      },
    );
  }

  /** Runs the calls in parallel; each outcome is logged, and every result is fed back. */
  private async runTools(calls: ToolCall[], signal: AbortSignal, emit: (e: CrewEvent) => void): Promise<ChatMessage[]> {
    const toolsByName = (this.toolsByName ??= new Map(this.node.tools.map((t) => [t.name, t])));
    return Promise.all(
      calls.map((call) => {
        const tool = call.function?.name;
        emit(event('agent.log', { name: 'tool_call_start', payload: { tool, call_id: call.id, arguments: call.function?.arguments } }));
        return runToolCall(toolsByName, call, { session: this.ctx.session, node: this.node, signal, toolCallId: call.id }).then((outcome) => {
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
