import { clearLine, cursorTo, Interface } from 'node:readline';

/** How `rxcrew chat` shows the conversation. */
export interface ConsoleOptions {
  output: NodeJS.WritableStream;
  errors: NodeJS.WritableStream;
  /** A terminal: readline draws the `you> ` prompt, and agent output is written over it. */
  interactive: boolean;
  /** Print each line sent as `you> line` (script mode, where nobody typed it). */
  echo: boolean;
}

/**
 * The terminal side of a chat: the agent's streamed reply on one line, notes,
 * errors, and (on a terminal) the prompt, kept out of the way of the agent.
 */
export class ChatConsole {
  /** A reply line (`agent: …`) has been started and not yet ended. */
  private lineOpen = false;
  private prompter: Interface | undefined;

  constructor(private readonly options: ConsoleOptions) {}

  /** The readline interface that draws the prompt (terminal only). */
  usePrompt(rl: Interface): void {
    if (this.options.interactive) this.prompter = rl;
  }

  /** Shows the prompt again, keeping what the user has typed so far. */
  prompt(): void {
    this.prompter?.prompt(true);
  }

  /** A line the user sends. */
  userLine(text: string): void {
    if (this.options.echo) this.write(`you> ${text}\n`);
  }

  /** A whole message from the agent (`agent.speak`). */
  agentLine(text: string): void {
    this.endLine();
    this.clearPrompt();
    this.write(`agent: ${text}\n`);
  }

  /** One streamed piece of the reply, without a newline. */
  replyChunk(text: string): void {
    this.openLine();
    this.write(text);
  }

  /** Ends the reply line. */
  replyEnd(): void {
    this.endLine();
  }

  /** The user cut the reply short: marked on the reply's own line. */
  interrupted(): void {
    this.write(this.lineOpen ? ' (interrupted)\n' : '(interrupted)\n');
    this.lineOpen = false;
  }

  /** The connection was lost in the middle of a reply: marked on the reply's own line. */
  cutOff(): void {
    if (!this.lineOpen) return;
    this.write(' (connection lost)\n');
    this.lineOpen = false;
  }

  /** Something that happened to the call, e.g. `(the agent ended the call)`. */
  note(text: string): void {
    this.endLine();
    this.clearPrompt();
    this.write(`(${text})\n`);
  }

  /** One line on stderr; a reply line in progress is ended first so both stay readable. */
  error(text: string): void {
    if (this.options.interactive) {
      this.endLine();
      this.clearPrompt();
    }
    this.options.errors.write(`${text}\n`);
  }

  /** A plain line (e.g. the greeting hint on a terminal). */
  info(text: string): void {
    this.clearPrompt();
    this.write(`${text}\n`);
  }

  /** On a terminal, leaves the shell's prompt on a line of its own. */
  leave(): void {
    if (!this.options.interactive) return;
    if (this.lineOpen) this.endLine();
    else this.write('\n');
  }

  /** Starts the reply line, once per reply. */
  private openLine(): void {
    if (this.lineOpen) return;
    this.clearPrompt();
    this.write('agent: ');
    this.lineOpen = true;
  }

  private endLine(): void {
    if (!this.lineOpen) return;
    this.write('\n');
    this.lineOpen = false;
  }

  // The prompt may be on screen when the agent speaks: write over it; prompt() redraws it.
  private clearPrompt(): void {
    if (!this.prompter) return;
    cursorTo(this.options.output, 0);
    clearLine(this.options.output, 0);
  }

  private write(text: string): void {
    this.options.output.write(text);
  }
}
