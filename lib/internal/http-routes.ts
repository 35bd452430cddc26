import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CrewLogger } from '../session-options';
import type { HttpHandler, ResolvedAppOptions } from '../app-options';
import type { CrewMetrics } from './metrics';
import type { Inspector } from './inspector/inspector';
import { answerTwilioVoice } from '../telephony/twilio-webhook';
import { pathOf } from './upgrade-gate';

/** What the app's HTTP routes read of it. */
export interface HttpRoutesHost {
  readonly options: Pick<ResolvedAppOptions, 'twilio' | 'metricsAuth'> & { readonly http?: HttpHandler; readonly logger: CrewLogger };
  readonly accepting: () => boolean;
  readonly activeSessions: () => number;
  readonly workerId: string;
  readonly metrics: CrewMetrics | undefined;
  readonly inspector: Inspector | undefined;
  /** Whether `req` passes the app's `authenticate` (for `/metrics` with `metricsAuth`). */
  readonly allows: (req: IncomingMessage) => Promise<boolean>;
}

/**
 * The app's own HTTP routes, after the user's `http` handler: the inspector,
 * the Twilio webhook, `GET /` (status JSON), `/metrics`, `/health`, `/ready`.
 */
export async function handleHttp(host: HttpRoutesHost, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { options } = host;
  try {
    if (options.http && (await options.http(req, res))) return;
    const pathname = pathOf(req);
    if (host.inspector !== undefined && (await host.inspector.handle(req, res, pathname))) return;
    const twilio = options.twilio;
    if (twilio !== undefined && pathname === `${twilio.path}/voice`) return await answerTwilioVoice(req, res, twilio);
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: 'method not allowed' });
    const accepting = host.accepting();
    if (pathname === '/') {
      return json(res, 200, { status: accepting ? 'ok' : 'closing', ready: accepting, active_sessions: host.activeSessions(), worker: host.workerId });
    }
    if (pathname === '/metrics' && host.metrics !== undefined) return await serveMetrics(host, req, res, host.metrics);
    if (pathname === '/health') return json(res, 200, { status: 'ok' });
    if (pathname === '/ready') return json(res, accepting ? 200 : 503, { ready: accepting });
    return json(res, 404, { error: 'not found' });
  } catch (err) {
    options.logger.error({ err, method: req.method, path: pathOf(req) }, 'http handler failed');
    if (!res.headersSent) json(res, 500, { error: 'internal error' });
    else res.destroy();
  }
}

/** `GET /metrics`: the Prometheus exposition, behind `authenticate` when `metricsAuth` is set. */
async function serveMetrics(host: HttpRoutesHost, req: IncomingMessage, res: ServerResponse, metrics: CrewMetrics): Promise<void> {
  if (host.options.metricsAuth && !(await host.allows(req))) return json(res, 401, { error: 'unauthorized' });
  const text = await metrics.exposition();
  res.writeHead(200, { 'content-type': metrics.contentType, 'content-length': Buffer.byteLength(text) });
  res.end(req.method === 'HEAD' ? undefined : text);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
