import { APP_DEFAULTS, resolveAppOptions } from '../lib/app-options';
import { ErrorCodes } from 'rxcrew';

const setup = () => undefined;

describe('resolveAppOptions', () => {
  it('merges the options over the documented defaults', () => {
    const o = resolveAppOptions({ setup, port: 0, maxEventsPerSecond: 7 });
    expect(o).toMatchObject({ ...APP_DEFAULTS, port: 0, maxEventsPerSecond: 7 });
    expect(o.limits).toEqual({ maxFrameBytes: 65536, maxJsonDepth: 32, maxEventsPerSecond: 7, maxAudioFramesPerSecond: 200, maxPrestartEvents: 1024 });
    expect(resolveAppOptions({ setup, port: undefined, host: undefined }).host).toBe('0.0.0.0');
  });

  it.each([
    [{ port: 70000 }, /port must be an integer/],
    [{ path: 'ws' }, /path must start with "\/"/],
    [{ maxPayload: 0 }, /maxPayload must be a positive integer/],
    [{ maxSessions: 1.5 }, /maxSessions must be a positive integer/],
    [{ heartbeatInterval: -1 }, /heartbeatInterval must be a number of milliseconds/],
    [{ sendSoftLimit: 10, sendHardLimit: 5 }, /sendHardLimit must be at least sendSoftLimit/],
    [{ authenticate: 'yes' }, /authenticate must be a function/],
    [{ allowedOrigins: 'https://a.test' }, /allowedOrigins must be an array/],
    [{ metrics: 'yes' }, /metrics must be true or false/],
    [{ metricsAuth: true }, /metricsAuth needs authenticate/],
  ])('refuses %j', (bad, message) => {
    expect(() => resolveAppOptions({ setup, port: 0, ...(bad as object) })).toThrow(message);
    expect(() => resolveAppOptions({ setup, port: 0, ...(bad as object) })).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT }));
  });

  it('requires setup', () => {
    expect(() => resolveAppOptions({} as never)).toThrow(/options.setup must be a function/);
  });
});
