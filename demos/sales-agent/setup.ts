import { CrewSession, Responder } from 'rxcrew';
import { SalesAgent, salesResponder } from './sales-agent';
import { StatsTracker } from './stats-tracker';

/** Where the hooks write. `console.log` in the server; a no-op or a mock in tests. */
export type DemoLog = (line: string) => void;

export interface SetupOptions {
  /** Default: `console.log`. */
  log?: DemoLog;
  /** How long to wait for the client's `system.init` before starting (ms). Default 1000. */
  initTimeout?: number;
  /**
   * The model every session's agent uses. Default `salesResponder()`: a real one
   * when `OPENAI_API_KEY`/`OPENAI_BASE_URL` is set, else the sales script. Tests
   * pass the script itself, so that the environment cannot change the replies.
   */
  responder?: Responder;
}

/** The context key the speech counter lives under (the page's `agent_speech_count` metric). */
export const SPEECH_COUNT_KEY = 'agent_speech_count';

/**
 * Builds the setup handler of the product page's "Complete Setup" example,
 * step by step, with an injectable logger so tests stay quiet.
 *
 * @example
 * new CrewApp({ setup: createSetup({ log: () => undefined }), port: 0 });
 */
export function createSetup(options: SetupOptions = {}): (session: CrewSession) => Promise<void> {
  const log = options.log ?? ((line: string) => console.log(line));
  const initTimeout = options.initTimeout ?? 1000;
  // one model for the whole server: it keeps no per-call state (each session keeps its conversation)
  const responder = options.responder ?? salesResponder();

  return async function setup(session: CrewSession): Promise<void> {
    // 1. Initialize nodes: one instance per session, as on the page.
    const agent = new SalesAgent({ responder });
    const tracker = new StatsTracker();

    // 2. Build the graph: events go tracker → agent; the agent, a leaf, feeds the client.
    session.addNode(tracker);
    session.addNode(agent);
    session.addEdge(tracker, agent);

    // 3. Register hooks: side effects without a node of their own.
    session.onEvent('system.control.interrupt', () => {
      log('User interrupted the agent!');
    });

    // The page's spelling; rxcrew resolves the alias to system.user.joined.
    session.onEvent('system.user_joined', (_session, e) => {
      log(`User ${String(e.session_id)} connected!`);
    });

    // The page's metrics.increment("agent_speech_count"), kept per session in the context.
    session.onEvent('agent.speak', (s) => {
      s.context.set(SPEECH_COUNT_KEY, s.context.getOr(SPEECH_COUNT_KEY, 0) + 1);
    });

    // Not on the page: the tracker's agent.log reaches no client (its child, the agent,
    // drops it), so the server prints it here to show what the tracker counted.
    session.onEvent('agent.log', (_session, e) => {
      if (e.name === 'stats') log(`Stats for session ${session.id}: ${JSON.stringify(e.payload)}`);
    });

    // 4. Launch, then keep this handler alive until the connection has ended.
    // The platform sends system.init first: wait for it (briefly) so the greeting,
    // sent on system.user.joined, can use its initial_variables. Meanwhile events are buffered.
    await session.waitForInit(initTimeout);
    await session.start();
    await session.waitUntilComplete();
  };
}

/** The page's `setup`, logging to the console. */
export const setup = createSetup();
