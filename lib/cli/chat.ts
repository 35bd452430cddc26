import { createInterface } from 'node:readline';
import type { CrewEvent } from '../events';
import { AgentConnection, describeError } from './connection';
import { ChatConsole } from './console';

/*
 * The protocol side of `rxcrew chat`: one conversation with an agent over
 * WebSocket, as the Atoms platform holds it — system.init, wait for agent.ready,
 * system.user.joined, then per input line agent.transcript.update (user) and
 * system.llm.request, the reply streamed until agent.llm.response.end, then
 * agent.transcript.update (assistant) with what the user saw. It never exits
 * the process and never throws: the outcome is the exit code `done` resolves with.
 */

/** Exit codes of `rxcrew`. */
export const ExitCodes = { OK: 0, CONNECTION: 1, USAGE: 2 } as const;

export interface ChatOptions {
  /** The agent's WebSocket URL, e.g. `ws://localhost:8080/ws`. */
  url: string;
  /** Sent as `system.init`'s `session_context.initial_variables`. Default `{}`. */
  initialVariables?: Record<string, unknown>;
  /** Where the user's lines come from, one turn per non-blank line. Its end ends the chat. */
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  errors: NodeJS.WritableStream;
  /** `input` and `output` are a terminal: show the `you> ` prompt, take Ctrl-C from readline. Default false. */
  interactive?: boolean;
  /** Print each line sent as `you> line`. Default false. */
  echo?: boolean;
  /** How long to wait for `agent.ready` after starting to connect (ms). Default 10000. */
  readyTimeout?: number;
  /** How long to wait for the server to answer our close frame (ms). Default 2000. */
  closeTimeout?: number;
  /** How long to wait for a pong before going on without it (ms). Default 1000. */
  pongTimeout?: number;
}

export interface ChatHandle {
  /** Resolves with the exit code once the connection has closed. Never rejects. */
  readonly done: Promise<number>;
  /** Ctrl-C: interrupts the reply in flight, or, with none, closes (1000) and exits 0. */
  interrupt(): void;
}

type Phase = 'connecting' | 'open' | 'joining' | 'ready' | 'closing' | 'closed';

/** A reply in flight: requested by us, or started by the agent. */
interface Reply {
  /** What the user has seen of it. */
  text: string;
  interrupted: boolean;
}

/** Starts a chat with the agent at `options.url`. */
export function chat(options: ChatOptions): ChatHandle {
  const { url } = options;
  const interactive = options.interactive ?? false;
  const readyTimeout = options.readyTimeout ?? 10_000;
  const out = new ChatConsole({ output: options.output, errors: options.errors, interactive, echo: options.echo ?? false });

  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((resolve) => (resolveDone = resolve));
  let phase: Phase = 'connecting';
  let exitCode: number = ExitCodes.OK;
  const pending: string[] = []; // lines not sent yet: the agent takes one at a time
  let inputDone = false;
  let reply: Reply | undefined;

  // On a terminal readline echoes what is typed and draws the prompt, so it needs output.
  const rl = createInterface({
    input: options.input,
    output: interactive ? options.output : undefined,
    terminal: interactive,
    prompt: 'you> ',
  });
  out.usePrompt(rl);

  const idlePrompt = () => {
    if (phase === 'ready' && !reply && pending.length === 0) out.prompt();
  };

  /** Ends the chat from our side; `done` resolves when the socket has closed. */
  const finish = (code: number) => {
    if (phase === 'closing' || phase === 'closed') return;
    phase = 'closing';
    exitCode = code;
    clearTimeout(readyTimer);
    rl.close();
    conn.close();
  };
  const fail = (message: string) => {
    if (phase === 'closing' || phase === 'closed') return;
    out.error(`rxcrew: ${message}`);
    finish(ExitCodes.CONNECTION);
  };

  /** Sends the next line when the agent is free; at end of input with nothing left, leaves. */
  const pump = () => {
    if (phase !== 'ready' || reply) return;
    const line = pending.shift();
    if (line === undefined) {
      if (inputDone) finish(ExitCodes.OK);
      else out.prompt();
      return;
    }
    out.userLine(line);
    reply = { text: '', interrupted: false };
    conn.send({ type: 'agent.transcript.update', role: 'user', content: line });
    conn.send({ type: 'system.llm.request' });
  };

  /** The conversation is open: the user may talk. */
  const joined = () => {
    if (phase !== 'joining') return;
    phase = 'ready';
    if (interactive) out.info(`connected to ${url}; type a message (Ctrl-C interrupts a reply, Ctrl-D leaves)`);
    pump();
  };

  const interrupt = () => {
    if (phase === 'ready' && reply && !reply.interrupted) {
      reply.interrupted = true;
      conn.send({ type: 'system.control.interrupt' });
      out.interrupted();
      return;
    }
    out.leave();
    finish(ExitCodes.OK);
  };

  const endReply = () => {
    if (!reply) return;
    const { text, interrupted } = reply;
    reply = undefined;
    if (!interrupted) out.replyEnd();
    // Tell the agent what the user actually saw. Nothing seen: nothing to correct,
    // and an empty transcript would replace the record of the previous reply.
    if (text !== '') conn.send({ type: 'agent.transcript.update', role: 'assistant', content: text });
    // agent.end_call right after the end must be seen before the next line goes
    conn.afterPong(pump);
  };

  const onEvent = (e: CrewEvent) => {
    switch (e.type) {
      case 'agent.ready':
        if (phase !== 'open') return;
        phase = 'joining';
        clearTimeout(readyTimer);
        conn.send({ type: 'system.user.joined' });
        // a greeting sent along with agent.ready prints before the first line goes
        return conn.afterPong(joined);
      case 'agent.speak':
        out.agentLine(String(e.text ?? ''));
        return idlePrompt();
      case 'agent.llm.response.start':
        // "agent: " waits for the first chunk, so that an empty reply prints nothing
        reply ??= { text: '', interrupted: false };
        return;
      case 'agent.llm.response.chunk': {
        reply ??= { text: '', interrupted: false };
        if (reply.interrupted) return; // sent before the agent saw the interrupt: never shown
        const text = String(e.text ?? '');
        reply.text += text;
        return out.replyChunk(text);
      }
      case 'agent.llm.response.end':
        return endReply();
      case 'agent.error':
        out.error(`agent error (${String(e.severity ?? 'warning')}): ${String(e.message ?? '')}`);
        return idlePrompt();
      case 'agent.end_call':
        out.note('the agent ended the call');
        return finish(ExitCodes.OK);
      case 'agent.transfer_call':
        out.note(`the agent transferred the call to ${String(e.transfer_call_number ?? 'another number')}`);
        return finish(ExitCodes.OK);
      default:
        return; // agent.log, controls: nothing to show in text
    }
  };

  let conn: AgentConnection;
  try {
    conn = new AgentConnection(
      url,
      {
        open() {
          phase = 'open';
          const session_context = { initial_variables: options.initialVariables ?? {}, conversation_type: 'chat' };
          conn.send({ type: 'system.init', version: '1.0', session_context });
        },
        event(e) {
          if (phase !== 'closing' && phase !== 'closed') onEvent(e);
        },
        error(err) {
          fail(phase === 'connecting' ? `cannot connect to ${url}: ${describeError(err)}` : `connection error: ${describeError(err)}`);
        },
        close(code, reason) {
          if (phase !== 'closing') {
            out.error(`rxcrew: the server closed the connection (${code}${reason ? ` ${reason}` : ''})`);
            exitCode = ExitCodes.CONNECTION;
          }
          phase = 'closed';
          clearTimeout(readyTimer);
          rl.close();
          resolveDone(exitCode);
        },
      },
      { closeTimeout: options.closeTimeout ?? 2000, pongTimeout: options.pongTimeout ?? 1000 },
    );
  } catch (err) {
    out.error(`rxcrew: cannot connect to ${url}: ${describeError(err)}`);
    rl.close();
    resolveDone(ExitCodes.CONNECTION);
    return { done, interrupt: () => undefined };
  }

  const readyTimer = setTimeout(() => {
    if (phase === 'connecting') fail(`cannot connect to ${url}: no answer within ${readyTimeout / 1000} s`);
    else if (phase === 'open') fail(`no agent.ready from ${url} within ${readyTimeout / 1000} s`);
  }, readyTimeout);

  rl.on('line', (line) => {
    const text = line.trim();
    if (text === '') return idlePrompt();
    pending.push(text);
    pump();
  });
  rl.on('close', () => {
    // Ctrl-D at the prompt: leave the shell's prompt a line of its own
    if (interactive && phase === 'ready' && !reply) out.leave();
    inputDone = true;
    pump();
  });
  rl.on('SIGINT', interrupt); // Ctrl-C on a terminal (raw mode: no process signal)

  return { done, interrupt };
}
