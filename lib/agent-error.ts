import { BadEventError, describeError, ErrorCode, errorClass, errorEntry, MessageFields, ReportedCode, Severity } from './errors';
import { CrewEvent, event } from './events';

/**
 * The details an `agent.error` payload of `code` carries besides `code`,
 * `error_class` and `message`: for a code only reported, the fields of its
 * template (so `NODE_FAILED` needs `node_name`, `HOOK_FAILED` `pattern` and
 * `event_type`); for the others, anything.
 */
export type ReportDetails<C extends ErrorCode> = [C] extends [ReportedCode]
  ? Omit<MessageFields<C & ReportedCode>, 'cause'>
  : Readonly<Record<string, unknown>>;

export interface AgentErrorOptions<C extends ErrorCode> {
  /** Default: the code's one severity in the registry, else `'warning'`. */
  severity?: Severity;
  /** Default: for a code only reported, its template; else the cause's message. */
  message?: string;
  /** Added to the payload after `code`, `error_class`, `message` (and `issues`). */
  details?: ReportDetails<C>;
}

/**
 * The one builder of `agent.error` events, so that every report has the same
 * shape whoever makes it: `{message, severity, payload}`, where `payload` is
 * `{code, error_class, message}` (`error_class` and `message` describe `cause`),
 * then `issues` when the cause is a `BadEventError`, then the code's details
 * (`node_name`; `pattern`, `event_type`; `engine`).
 *
 * @example
 * subscriber.next(agentError(ErrorCodes.NODE_FAILED, err, { details: { node_name: this.name } }));
 * // {type: 'agent.error', message: 'node "x" failed: boom', severity: 'warning',
 * //  payload: {code: CREW_ERR_NODE_FAILED, error_class: 'Error', message: 'boom', node_name: 'x'}}
 */
export function agentError<C extends ErrorCode>(code: C, cause: unknown, options: AgentErrorOptions<C> = {}): CrewEvent {
  const entry = errorEntry(code);
  const details = options.details as Record<string, unknown> | undefined;
  const template = entry.class === undefined ? (entry.message as ((fields: object) => string) | undefined) : undefined;
  const issues = cause instanceof BadEventError ? { issues: cause.issues } : undefined;
  return event('agent.error', {
    message: options.message ?? template?.({ ...details, cause }) ?? describeError(cause),
    severity: options.severity ?? (entry.severity.length === 1 ? entry.severity[0] : 'warning'),
    payload: { code, error_class: errorClass(cause), message: describeError(cause), ...issues, ...details },
  });
}
