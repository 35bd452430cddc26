import * as rxcrew from 'rxcrew';
import * as llm from 'rxcrew/llm';
import * as operators from 'rxcrew/operators';
import * as testing from 'rxcrew/testing';
import * as voice from 'rxcrew/voice';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

// API changes show up in review: update these lists on purpose (docs/api.md lists the same names).
describe('public exports', () => {
  it('rxcrew: sessions, the app, nodes, events, errors, the agent turn', () => {
    expect(Object.keys(rxcrew).sort()).toMatchInlineSnapshot(`
[
  "AlreadyStartedError",
  "AtomsCrewApp",
  "BackgroundCrewNode",
  "BadEventError",
  "CloseCodes",
  "CrewApp",
  "CrewError",
  "CrewNode",
  "CrewSession",
  "DuplicateNodeError",
  "ErrorCodes",
  "EventDefinedError",
  "Events",
  "GraphCycleError",
  "GraphLockedError",
  "InterruptedError",
  "InvalidArgumentError",
  "InvalidEdgeError",
  "LightningError",
  "LlmError",
  "NodeSetupError",
  "OutputCrewNode",
  "SessionClosedError",
  "SessionContext",
  "SttError",
  "UnknownNodeError",
  "agentError",
  "defineEvent",
  "event",
  "jsonLogger",
  "node",
  "redisStore",
  "tool",
]
`);
    expect(rxcrew.AtomsCrewApp).toBe(rxcrew.CrewApp);
  });

  it('rxcrew/operators: reusable operators and ready nodes', () => {
    expect(Object.keys(operators).sort()).toMatchInlineSnapshot(`
[
  "AudioPacer",
  "InterruptedError",
  "SpeechToText",
  "TextToSpeech",
  "VoiceActivity",
  "interruptibleConcatMap",
  "ofType",
]
`);
  });

  it('rxcrew/voice: speech and audio', () => {
    expect(Object.keys(voice).sort()).toMatchInlineSnapshot(`
[
  "AudioPacer",
  "DEFAULT_AUDIO_FORMAT",
  "LIGHTNING_SAMPLE_RATES",
  "LightningEngine",
  "LightningError",
  "MespeakEngine",
  "PULSE_SAMPLE_RATES",
  "PlaybackState",
  "PulseEngine",
  "SentenceSplitter",
  "SpeechToText",
  "SttError",
  "SttErrorCodes",
  "TextToSpeech",
  "VoiceActivity",
  "createPcm16Resampler",
  "parseWav",
  "playbackOf",
  "resamplePcm16",
  "splitSentences",
]
`);
    // the ready voice nodes are the same classes wherever they are imported from
    expect(voice.TextToSpeech).toBe(operators.TextToSpeech);
    expect(voice.SpeechToText).toBe(operators.SpeechToText);
  });

  it('rxcrew/llm: the model clients', () => {
    expect(Object.keys(llm).sort()).toMatchInlineSnapshot(`
[
  "DEFAULT_OPENAI_MODEL",
  "DEFAULT_SCRIPT_RULES",
  "LlmError",
  "LlmErrorCodes",
  "OPENAI_CLIENT_DEFAULTS",
  "OpenAIChatClient",
  "defaultResponder",
  "isAbortError",
  "openAIResponder",
  "scriptedResponder",
]
`);
  });

  it('rxcrew/testing: test helpers', () => {
    expect(Object.keys(testing).sort()).toMatchInlineSnapshot(`
[
  "TestClient",
  "TwilioCaller",
  "createNodeTestScheduler",
  "runNode",
  "testNode",
  "testSession",
]
`);
  });

  it('rxcrew: the TurnMetrics type (types leave no runtime name; tsc checks this)', () => {
    const figures: rxcrew.TurnMetrics = { request_id: 'r', ttft_ms: null, duration_ms: 0, tool_ms: 0, interrupted: false, chunks: 0, outcome: 'completed' };
    const voiceFields: Array<keyof rxcrew.TurnMetrics> = ['tts_ttfb_ms', 'voice_response_ms'];
    expect(Object.keys(figures)).toHaveLength(7);
    expect(voiceFields).toHaveLength(2);
  });

  it('every error class is one class, whichever entry exports it', () => {
    expect(voice.LightningError).toBe(rxcrew.LightningError);
    expect(voice.SttError).toBe(rxcrew.SttError);
    expect(llm.LlmError).toBe(rxcrew.LlmError);
  });

  it("package.json's exports map each entry to its build output", () => {
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
    expect(pkg.exports).toEqual({
      '.': { types: './dist/lib/index.d.ts', default: './dist/lib/index.js' },
      './operators': { types: './dist/operators/index.d.ts', default: './dist/operators/index.js' },
      './testing': { types: './dist/lib/testing/index.d.ts', default: './dist/lib/testing/index.js' },
      './voice': { types: './dist/operators/voice.d.ts', default: './dist/operators/voice.js' },
      './llm': { types: './dist/lib/llm/index.d.ts', default: './dist/lib/llm/index.js' },
      './package.json': './package.json',
    });
  });
});
