#!/usr/bin/env node
/*
 * The `rxcrew` command (package.json "bin"). Everything happens in lib/cli/main;
 * this file only connects it to the real process. It imports the runtime by
 * relative path (not 'rxcrew') so that it also runs from source under ts-node.
 *
 *   rxcrew chat [--script FILE] [--name NAME] [--var KEY=VALUE]... [URL]
 *   rxcrew call --twilio URL [--wav FILE] [--dtmf DIGITS] [--param KEY=VALUE]... [--out FILE]
 *   rxcrew serve [--workers N] [--port P] [--host H] FILE
 *   rxcrew --help
 *
 * Exit codes: 0 done, 1 connection or server problem, 2 usage error.
 */
import { main } from '../lib/cli/main';

// `rxcrew chat … | head` closes stdout early: stop quietly instead of crashing on EPIPE.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  process.exit(0);
});

main(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  onInterrupt(handler) {
    process.on('SIGINT', handler);
    return () => process.off('SIGINT', handler);
  },
}).then(
  (code) => {
    process.exitCode = code;
    // stdin may still hold the event loop open (a terminal, or a pipe nobody closed)
    process.stdin.destroy();
  },
  (err: unknown) => {
    // a bug, not a user mistake: still one line, no stack trace unless asked for
    const detail = process.env.RXCREW_DEBUG ? (err as Error)?.stack : (err as Error)?.message;
    process.stderr.write(`rxcrew: internal error: ${detail ?? String(err)}\n`);
    process.exitCode = 1;
    process.stdin.destroy();
  },
);
