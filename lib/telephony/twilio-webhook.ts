import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ResolvedTwilioOptions } from '../app-options';
import { validateTwilioSignature } from './signature';
import { callParameters, connectStreamTwiml, parseFormBody, publicOrigin, requestUrl, streamUrl } from './twiml';

/** Largest webhook body read (bytes); Twilio's voice webhooks are a few hundred. */
const MAX_BODY_BYTES = 64 * 1024;

/**
 * `POST {path}/voice`, Twilio's "a call comes in" webhook: answers TwiML that
 * connects the call to the stream at `wss://HOST{path}`, the call's
 * `From`/`To`/… passed as `<Parameter>`s. The host is `publicUrl`'s, else
 * the request's (`X-Forwarded-Host`, `Host`); none usable: 400. With
 * `authToken` set, a request whose `X-Twilio-Signature` does not verify
 * (over the public URL and the form's fields) gets 403.
 */
export async function answerTwilioVoice(req: IncomingMessage, res: ServerResponse, options: ResolvedTwilioOptions): Promise<void> {
  if (req.method !== 'POST') return plain(res, 405, 'method not allowed');
  const body = await readBody(req);
  if (body === undefined) return plain(res, 413, 'request too large');
  const origin = publicOrigin({ headers: req.headers, publicUrl: options.publicUrl });
  if (origin === undefined) return plain(res, 400, 'no usable Host');
  const form = parseFormBody(body);
  if (options.authToken !== undefined) {
    const header = req.headers['x-twilio-signature'];
    const signature = Array.isArray(header) ? header[0] : header;
    const url = requestUrl(origin, req.url ?? '/');
    if (signature === undefined || !validateTwilioSignature({ authToken: options.authToken, signature, url, params: form })) {
      return plain(res, 403, 'signature does not verify');
    }
  }
  const twiml = connectStreamTwiml(streamUrl(origin, options.path), callParameters(form));
  res.writeHead(200, { 'content-type': 'text/xml; charset=utf-8', 'content-length': Buffer.byteLength(twiml) });
  res.end(twiml);
}

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk); // past it, read on without keeping
    });
    req.on('end', () => resolve(size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function plain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
