import type { SetupHandler } from '../app-options';
import type { CrewSession } from '../session';

/**
 * Runs the application's setup for a new session, as every connection gets it
 * (`CrewApp`, and `testSession` in `rxcrew/testing`): a throw or a rejection
 * fails the session (a fatal `agent.error`, then 1011); a setup that returns,
 * or resolves, without starting the session has it started. The result is not
 * awaited beyond that: a setup may go on awaiting the session's end.
 */
export function runSetup(setup: SetupHandler, session: CrewSession): void {
  let result: void | Promise<void>;
  try {
    result = setup(session);
  } catch (err) {
    void session.fail(err, 'setup failed');
    return;
  }
  Promise.resolve(result).then(
    () => {
      if (session.state === 'created') void session.start();
    },
    (err: unknown) => void session.fail(err, 'setup failed'),
  );
}
