import type { Observable } from 'rxjs';
import type { SessionContext } from '../context';
import { agentError } from '../agent-error';
import { AlreadyStartedError, CrewError, ErrorCodes, closeCodeOf, errorCodeOf, GraphLockedError, InvalidArgumentError, NodeSetupError, SessionClosedError } from '../errors';
import { CrewEvent, event } from '../events';
import { Graph } from '../graph';
import type { EventHandler } from '../hooks';
import type { CrewNode } from '../node';
import type { CrewSession } from '../session';
import { boundLogger } from '../logger';
import type { CrewLogger, SessionLimits, SessionState } from '../session-options';
import { CloseCodes, CrewConnection, CrewTransport } from '../transport';
import { ClientPort, PortOwner } from './client-port';
import { CLIENT, Delivery, DeliveryOwner, ROOT, SINK } from './delivery';
import { BusOwner, EventBus } from './event-bus';
import { DeliveryCounts, DeliveryTap, RegisteredRuntime, registerRuntime } from './introspection';
import { NO_OBSERVER, SessionObserver } from './observer';
import type { SessionRecord } from '../scale/session-record';
import { existingVoiceClockOf, VoiceClock, voiceClockOf } from '../audio/voice-clock';

/** What a runtime is made with (the session's options, resolved). */
export interface RuntimeOptions {
  readonly logger: CrewLogger;
  readonly teardownTimeout: number;
  readonly limits: Readonly<SessionLimits>;
  readonly now: () => number;
}

const NO_NODES: readonly CrewNode[] = Object.freeze([]);
const AUDIO = 'agent.audio';
const STOPPED_SPEAKING = 'system.user.stopped_speaking';
const USER_AUDIO = 'user.audio';

/**
 * What a `CrewSession` is at run time: its lifecycle (created → running →
 * closed), the graph being built and then wired (`Delivery`), the bus, the
 * transport and the client's port, the failures reported to the client, and
 * the one teardown. The session is the public façade over it.
 *
 * Most sessions of a server are idle at any moment, so what a runtime holds is
 * small: the bus and the port are made when first needed, the graph's build
 * state is dropped once wired.
 */
export class SessionRuntime implements PortOwner, DeliveryOwner, BusOwner, RegisteredRuntime {
  /** Who counts what this session does (metrics, inspector); set by the app before setup. */
  observer: SessionObserver = NO_OBSERVER;
  /** The session's entry in the app's store (docs/scale-out.md); set by the app before setup, when it has a store. */
  record: SessionRecord | undefined;
  private currentState: SessionState = 'created';
  /** Until wired; then `wiredNodes` keeps the node list. */
  private graph: Graph | undefined = new Graph();
  private wiredNodes: readonly CrewNode[] = NO_NODES;
  private readonly delivery = new Delivery(this);
  private bus: EventBus | undefined;
  private port: ClientPort | undefined;
  private transport: CrewTransport | undefined;
  private transportOpen = false;
  private endPromise: Promise<void> | undefined;
  private completion: Promise<void> | undefined;
  private complete: (() => void) | undefined;
  private completed = false;
  /** The options' logger with this session's `session_id` bound, made when first used. */
  private log: CrewLogger | undefined;
  /** The voice timings, when a node of the graph made them (a voice graph); see lib/audio/voice-clock.ts. */
  private voice: VoiceClock | undefined;

  constructor(
    readonly session: CrewSession,
    private readonly options: RuntimeOptions,
  ) {
    registerRuntime(session, this);
  }

  get context(): SessionContext {
    return this.session.context;
  }

  get logger(): CrewLogger {
    return (this.log ??= boundLogger(this.options.logger, { session_id: this.session.id }));
  }

  get state(): SessionState {
    return this.currentState;
  }

  /** Whether the session is ending or has ended. */
  get ending(): boolean {
    return this.endPromise !== undefined;
  }

  get nodes(): readonly CrewNode[] {
    return this.graph?.nodes ?? this.wiredNodes;
  }

  /** A node's children: the graph's while building, then as wired. */
  childrenOf(node: CrewNode): readonly CrewNode[] {
    return this.graph?.children(node) ?? this.delivery.childrenOf(node);
  }

  counts(): DeliveryCounts {
    return this.delivery.counts();
  }

  setTap(tap: DeliveryTap | undefined): void {
    this.delivery.tap = tap;
  }

  /** The client's port, if one was made. */
  get existingPort(): ClientPort | undefined {
    return this.port;
  }

  /** The client's side: made by `attach`, or first by an `inject` or `waitForInit` before it. */
  clientPort(): ClientPort {
    return (this.port ??= new ClientPort(this.options.limits, this, this.options.now));
  }

  get events$(): Observable<CrewEvent> {
    return this.eventBus().events$;
  }

  onEvent(pattern: string, handler: EventHandler): () => void {
    return this.eventBus().on(pattern, handler);
  }

  /** The graph to add to, while the session is being built. */
  building(method: string): Graph {
    if (this.ending) throw new SessionClosedError(method);
    if (this.graph === undefined) throw new GraphLockedError(method);
    return this.graph;
  }

  attach(transport: CrewTransport): CrewConnection {
    if (this.transport !== undefined) throw new InvalidArgumentError('attach: this session already has a transport');
    if (this.currentState === 'closed') throw new SessionClosedError('attach');
    this.transport = transport;
    this.transportOpen = true;
    return this.clientPort();
  }

  /**
   * Locks, validates and wires the graph, sends `agent.ready`, emits
   * `system.user.joined`, then delivers what was held. Throws what wiring
   * threw, after reporting it (fatal) and closing the session (1011).
   */
  start(): void {
    const graph = this.graph;
    const started = this.currentState === 'running' || (this.currentState === 'created' && (graph === undefined || graph.locked));
    if (started) throw new AlreadyStartedError();
    if (this.ending || graph === undefined) throw new SessionClosedError('start');
    try {
      this.delivery.wire(graph, this.session);
    } catch (err) {
      this.delivery.abandon();
      this.logger.error(err instanceof NodeSetupError ? { node: err.nodeName, err } : { err }, 'start failed');
      void this.fail(err, 'start failed', CloseCodes.INTERNAL_ERROR);
      throw err;
    }
    // the graph's maps are for building; a running session keeps only its node list
    this.wiredNodes = graph.nodes.slice(); // sized exactly
    this.graph = undefined;
    this.currentState = 'running';
    // a voice graph's nodes made the clock while being wired; any other session makes it at its first audio
    if (existingVoiceClockOf(this.session) !== undefined) this.timeVoice();
    if (this.transport?.interrupted !== undefined) {
      const transport = this.transport;
      this.delivery.interrupts.subscribe((e) => {
        if (this.transportOpen) transport.interrupted!(e);
      });
    }
    if (this.transportOpen) this.transport!.started?.();
    const id = this.session.id;
    const record = this.record;
    this.delivery.open(event('agent.ready', record === undefined ? { session_id: id } : { session_id: id, resume_token: record.token }));
    this.delivery.enter(CLIENT, event('system.user.joined', { session_id: id }));
    if (record?.refusal !== undefined) this.report(record.refusal);
    if (record?.resumed) {
      this.delivery.enter(ROOT, event('system.session.resumed', { session_id: id }));
      // what the client sent while its last holder was handing it over (logged there already)
      for (const e of record.restored!.replay) this.delivery.enter(CLIENT, e as CrewEvent);
    }
    this.port?.open();
  }

  send(e: CrewEvent): void {
    if (this.currentState !== 'closed') this.delivery.enter(SINK, e);
  }

  inject(e: CrewEvent): void {
    if (this.ending) return;
    if (this.currentState === 'created') this.clientPort().hold(e);
    else this.delivery.enter(ROOT, e);
  }

  waitUntilComplete(): Promise<void> {
    this.completion ??= this.completed ? Promise.resolve() : new Promise<void>((resolve) => (this.complete = resolve));
    return this.completion;
  }

  /** Reports `err` to the client as a fatal `agent.error` and ends the session with `code`. */
  fail(err: unknown, reason: string, code: number): Promise<void> {
    if (this.ending) return this.endPromise!;
    this.report(agentError(errorCodeOf(err, ErrorCodes.SETUP_FAILED), err, { severity: 'fatal' }));
    return this.end(code, reason, true);
  }

  stop(reason: string, code: number): Promise<void> {
    return this.end(code, reason, true);
  }

  // ---- what the port, the graph and the bus report ---------------------

  deliver(e: CrewEvent, fromClient: boolean): void {
    if (fromClient) {
      this.observer.event(e.type, 'in');
      const record = this.record;
      if (record !== undefined && e.type !== USER_AUDIO) record.accepted(e);
      if (record?.handingOver) return; // the session's next holder gives it to its graph
    }
    if (fromClient && e.type === STOPPED_SPEAKING) (this.voice ?? this.timeVoice()).userStopped();
    this.delivery.enter(fromClient ? CLIENT : ROOT, e);
  }

  refuse(error: CrewError): void {
    this.report(agentError(error.code, error, { severity: 'warning' }));
  }

  violate(error: CrewError, closeCode: number): void {
    if (this.ending) return;
    this.report(agentError(error.code, error, { severity: 'fatal' }));
    void this.end(closeCode, error.message, true);
  }

  transportEnded(code: number, reason: string): void {
    this.transportOpen = false;
    void this.end(code, reason, false);
  }

  report(e: CrewEvent): void {
    this.send(e);
  }

  nodeStopsSession(nodeName: string): void {
    void this.end(closeCodeOf(ErrorCodes.NODE_FAILED), `node "${nodeName}" failed`, true);
  }

  write(e: CrewEvent): void {
    if (!this.transportOpen) return this.observer.dropped('after_close');
    this.observer.event(e.type, 'out');
    try {
      this.transport!.send(e, this.port!.replyBinary);
    } catch (err) {
      this.logger.error({ event_type: e.type, err }, 'the transport failed to send an event');
    }
    if (e.type === AUDIO) (this.voice ?? this.timeVoice()).audioSent(e, this.session.audioFormat.outputSampleRate);
  }

  // ---- the end ----------------------------------------------------------

  /**
   * The one teardown, idempotent: later frames are ignored at once; then (after
   * the delivery in progress, if any) `system.user.left` goes through the graph
   * and the nodes flush, the transport is closed (unless it reported the end),
   * the nodes are unsubscribed, and the session completes once its hooks have
   * finished (up to `teardownTimeout`).
   */
  private end(code: number, reason: string, closeTransport: boolean): Promise<void> {
    if (this.endPromise !== undefined) return this.endPromise;
    this.observer.closed(code);
    // saved as it was when the connection ended: the teardown's interrupted turn is answered again on resume
    this.record?.end(code);
    this.port?.close();
    this.endPromise = new Promise<void>((resolve) => {
      const teardown = () => {
        const delivery = this.delivery;
        delivery.finish(event('system.user.left', { session_id: this.session.id, code, reason }), this.currentState === 'running');
        this.voice?.close();
        if (closeTransport && this.transportOpen) {
          try {
            this.transport!.close(code, reason);
          } catch (err) {
            this.logger.error({ err, code }, 'the transport failed to close');
          }
        }
        this.transportOpen = false;
        this.currentState = 'closed';
        delivery.dispose();
        const hooksDone = this.bus?.close(this.options.teardownTimeout) ?? Promise.resolve();
        void hooksDone.then(() => {
          this.completed = true;
          this.complete?.();
          resolve();
        });
      };
      // teardown delivers events itself, so it waits for the delivery in progress to finish
      if (this.delivery.busy) queueMicrotask(teardown);
      else teardown();
    });
    return this.endPromise;
  }

  /** The session's voice clock, from now on reading the session's clock and hearing every interrupt. */
  private timeVoice(): VoiceClock {
    const voice = (this.voice = voiceClockOf(this.session));
    voice.now = this.options.now;
    this.delivery.interrupts.subscribe(() => voice.interrupted());
    return voice;
  }

  private eventBus(): EventBus {
    if (this.bus === undefined) {
      this.bus = new EventBus(this);
      this.delivery.publishTo(this.bus);
    }
    return this.bus;
  }
}
