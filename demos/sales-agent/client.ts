/*
 * A terminal text client for the sales-agent demo. It speaks the Atoms protocol
 * as the platform does: system.init → wait for agent.ready → system.user.joined,
 * then per line typed: agent.transcript.update (user) + system.llm.request,
 * stream the chunks until agent.llm.response.end, then agent.transcript.update
 * (assistant) with the full reply.
 *
 *   node dist/demos/sales-agent/client.js [--name NAME] [URL]
 *   URL defaults to $RXCREW_URL, else ws://localhost:8080/ws
 *
 * Exit codes: 0 after agent.end_call or end of input; 1 when the server cannot be
 * reached or closes the connection first; 2 for bad arguments. Errors are one line
 * on stderr. Imports only `ws` (no rxcrew), so it also runs under plain ts-node.
 */
import { clearLine, createInterface, cursorTo } from 'node:readline';
import WebSocket from 'ws';

type WireEvent = { type: string; [field: string]: unknown };

interface Options {
  url: string;
  name: string;
}

const USAGE = 'usage: client [--name NAME] [URL]';

function parseArgs(argv: readonly string[]): Options {
  let url = process.env.RXCREW_URL || 'ws://localhost:8080/ws';
  let name = 'there';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--name') {
      if (i + 1 >= argv.length) fail(`--name needs a value; ${USAGE}`, 2);
      name = argv[++i];
    } else if (arg.startsWith('--name=')) {
      name = arg.slice('--name='.length);
    } else if (arg === '-h' || arg === '--help') {
      fail(USAGE, 0);
    } else if (arg.startsWith('-')) {
      fail(`unknown option ${arg}; ${USAGE}`, 2);
    } else {
      url = arg;
    }
  }
  return { url, name };
}

/** One line (stdout for --help, else stderr), then exit: no stack traces for the user. */
function fail(message: string, code: number): never {
  (code === 0 ? process.stdout : process.stderr).write(`${message}\n`);
  process.exit(code);
}

function main(): void {
  const { url, name } = parseArgs(process.argv.slice(2));
  const interactive = process.stdin.isTTY === true;
  let socket: WebSocket;
  try {
    socket = new WebSocket(url);
  } catch (err) {
    fail(`sales-agent client: invalid URL ${url}: ${(err as Error).message}`, 2);
  }

  const pending: string[] = []; // lines typed before the agent could take them
  let ready = false;
  let replying = false; // between sending a request and agent.llm.response.end
  let reply = '';
  let inputDone = false;
  let finishing = false; // we decided to close: the server's close is then expected

  const send = (e: WireEvent) => socket.send(JSON.stringify(e));
  const prompt = () => {
    if (interactive && !finishing && !replying) lines.prompt(true);
  };
  // The agent may speak while the prompt is shown: write over it; prompt() redraws it after.
  const clearPrompt = () => {
    if (!interactive) return;
    cursorTo(process.stdout, 0);
    clearLine(process.stdout, 0);
  };

  // Ends the conversation from our side; the exit code is set by the socket's close.
  const finish = (code: number) => {
    if (finishing) return;
    finishing = true;
    process.exitCode = code;
    lines.close();
    process.stdin.destroy(); // with piped input nothing else keeps the process alive
    socket.close(1000, 'client done');
  };

  // Takes the next typed line if the agent is free; at end of input with nothing
  // left to say, the conversation is over.
  const pump = () => {
    if (!ready || replying || finishing) return;
    const line = pending.shift();
    if (line === undefined) {
      if (inputDone) finish(0);
      return;
    }
    replying = true;
    reply = '';
    send({ type: 'agent.transcript.update', role: 'user', content: line });
    send({ type: 'system.llm.request' });
  };

  // In a terminal readline echoes what is typed and draws the prompt, so it needs stdout.
  const lines = createInterface({
    input: process.stdin,
    output: interactive ? process.stdout : undefined,
    terminal: interactive,
    prompt: 'you> ',
  });
  lines.on('line', (line) => {
    const text = line.trim();
    if (text === '') return prompt();
    pending.push(text);
    pump();
  });
  lines.on('close', () => {
    inputDone = true;
    pump();
  });
  // Ctrl-C in a terminal: leave like end of input, without waiting for queued lines.
  lines.on('SIGINT', () => {
    process.stdout.write('\n'); // leave the shell prompt on a line of its own
    finish(0);
  });

  socket.on('open', () => {
    send({
      type: 'system.init',
      version: '1.0',
      session_context: { initial_variables: { customer_name: name }, conversation_type: 'chat' },
    });
  });

  socket.on('message', (data) => {
    let e: WireEvent;
    try {
      e = JSON.parse(data.toString()) as WireEvent;
    } catch {
      return; // not JSON (audio): a text client has nothing to show
    }
    switch (e.type) {
      case 'agent.ready':
        ready = true;
        send({ type: 'system.user.joined' });
        prompt();
        return pump();
      case 'agent.speak':
        clearPrompt();
        process.stdout.write(`agent: ${String(e.text)}\n`);
        return prompt();
      case 'agent.llm.response.start':
        reply = '';
        clearPrompt();
        process.stdout.write('agent: ');
        return;
      case 'agent.llm.response.chunk':
        reply += String(e.text);
        process.stdout.write(String(e.text));
        return;
      case 'agent.llm.response.end':
        process.stdout.write('\n');
        // Tell the agent what the user actually heard.
        send({ type: 'agent.transcript.update', role: 'assistant', content: reply });
        replying = false;
        prompt();
        // Let messages already received (agent.end_call right after the end) go first.
        setImmediate(pump);
        return;
      case 'agent.end_call':
        clearPrompt();
        process.stdout.write('(the agent ended the call)\n');
        return finish(0);
      case 'agent.error':
        clearPrompt();
        process.stderr.write(`agent error (${String(e.severity)}): ${String(e.message)}\n`);
        return;
      default:
        return;
    }
  });

  socket.on('error', (err: NodeJS.ErrnoException) => {
    if (finishing) return; // e.g. closing while still connecting after Ctrl-C
    // An error before agent.ready means we never got a conversation: unreachable,
    // refused, or not a WebSocket endpoint. The socket closes next; it ends the process.
    const what = ready ? 'connection error' : `cannot connect to ${url}`;
    process.stderr.write(`sales-agent client: ${what}: ${err.code || err.message || String(err)}\n`);
    finishing = true;
    process.exitCode = 1;
  });

  socket.on('close', (code, reason) => {
    if (!finishing) {
      const why = reason.length > 0 ? ` ${reason.toString()}` : '';
      process.stderr.write(`sales-agent client: the server closed the connection (${code}${why})\n`);
      process.exitCode = 1;
      finishing = true;
    }
    lines.close();
    process.stdin.destroy();
  });
}

main();
