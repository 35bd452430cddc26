/**
 * One agent turn's figures, as `OutputCrewNode` sends them in `agent.log`
 * {name: 'turn.metrics', payload} once the turn is over, and as the app's
 * histograms record them. Times in milliseconds.
 */
export interface TurnMetrics {
  /** The turn's `system.llm.request` id. */
  request_id: string;
  /** Request → the model's first text chunk (time to first token); `null` if no text came. */
  ttft_ms: number | null;
  /** Request → the turn's end (last chunk, interrupt or failure). */
  duration_ms: number;
  /** Time spent running tools within the turn. */
  tool_ms: number;
  /** The reply's first sentence given to the TTS engine → its first audio from `TextToSpeech` (voice graphs only). */
  tts_ttfb_ms?: number;
  /** The user stopped speaking → the reply's first audio sent to the client (voice graphs only). */
  voice_response_ms?: number;
  /** Whether an interrupt cut the turn short. */
  interrupted: boolean;
  /** Text chunks sent. */
  chunks: number;
  /** How the turn ended. */
  outcome: 'completed' | 'interrupted' | 'failed';
}

/** The `agent.log` name turn figures are sent under. */
export const TURN_METRICS_LOG = 'turn.metrics';
