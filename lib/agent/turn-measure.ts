import type { TurnMetrics } from '../turn-metrics';

/**
 * The clock of one turn, from its start (the request taken up, just before
 * `agent.llm.response.start`) to its end: the first text chunk, the text chunks
 * sent, and the time the tool rounds took (parallel calls count once). Per
 * turn and per chunk, only a counter and a comparison.
 */
export class TurnMeasure {
  private readonly startedAt: number;
  private firstChunkAt: number | undefined;
  private chunks = 0;
  private toolMs = 0;
  private toolsSince: number | undefined;

  constructor(
    private readonly requestId: string,
    private readonly now: () => number,
  ) {
    this.startedAt = now();
  }

  /** A text chunk was sent. */
  chunk(): void {
    if (this.chunks++ === 0) this.firstChunkAt = this.now();
  }

  /** A round of tool calls begins. */
  toolsStarted(): void {
    this.toolsSince = this.now();
  }

  /** The round of tool calls is over. */
  toolsEnded(): void {
    if (this.toolsSince === undefined) return;
    this.toolMs += this.now() - this.toolsSince;
    this.toolsSince = undefined;
  }

  /** The turn's figures as it ends now (a tool round still running counts up to now). */
  end(outcome: TurnMetrics['outcome']): TurnMetrics {
    this.toolsEnded();
    const now = this.now();
    return {
      request_id: this.requestId,
      ttft_ms: this.firstChunkAt === undefined ? null : ms(this.firstChunkAt - this.startedAt),
      duration_ms: ms(now - this.startedAt),
      tool_ms: ms(this.toolMs),
      interrupted: outcome === 'interrupted',
      chunks: this.chunks,
      outcome,
    };
  }
}

/** Milliseconds to the microsecond: what `performance.now()` differences carry past that is noise. */
export function ms(value: number): number {
  return Math.round(value * 1000) / 1000;
}
