import * as rxcrew from 'rxcrew';
import * as operators from 'rxcrew/operators';
import * as testing from 'rxcrew/testing';

// API changes show up in review: update these lists on purpose.
describe('public exports', () => {
  it('rxcrew', () => {
    expect(Object.keys(rxcrew).sort()).toMatchInlineSnapshot(`
[
  "APP_DEFAULTS",
  "AlreadyStartedError",
  "AtomsCrewApp",
  "BackgroundCrewNode",
  "BadEventError",
  "CloseCodes",
  "CrewApp",
  "CrewError",
  "CrewNode",
  "CrewSession",
  "DEFAULT_AUDIO_FORMAT",
  "DEFAULT_OPENAI_MODEL",
  "DEFAULT_SCRIPT_RULES",
  "DEFAULT_SESSION_LIMITS",
  "DuplicateNodeError",
  "EVENT_ALIASES",
  "ErrorCodes",
  "EventDefinedError",
  "Events",
  "GraphCycleError",
  "GraphLockedError",
  "InterruptedError",
  "InvalidArgumentError",
  "InvalidEdgeError",
  "LIGHTNING_SAMPLE_RATES",
  "LightningEngine",
  "LightningError",
  "LlmError",
  "LlmErrorCodes",
  "MespeakEngine",
  "NodeSetupError",
  "OPENAI_CLIENT_DEFAULTS",
  "OpenAIChatClient",
  "OutputCrewNode",
  "PULSE_SAMPLE_RATES",
  "PlaybackState",
  "PulseEngine",
  "SentenceSplitter",
  "SessionClosedError",
  "SessionContext",
  "SttError",
  "SttErrorCodes",
  "UnknownNodeError",
  "canonicalType",
  "createPcm16Resampler",
  "defaultResponder",
  "defineEvent",
  "event",
  "getEventDefinition",
  "isAbortError",
  "node",
  "openAIResponder",
  "parseWav",
  "playbackOf",
  "registeredEventTypes",
  "resamplePcm16",
  "scriptedResponder",
  "splitSentences",
  "tool",
]
`);
    expect(rxcrew.AtomsCrewApp).toBe(rxcrew.CrewApp);
  });

  it('rxcrew/operators', () => {
    expect(Object.keys(operators).sort()).toEqual(
      ['AudioPacer', 'InterruptedError', 'SpeechToText', 'TextToSpeech', 'VoiceActivity', 'interruptibleConcatMap', 'ofType'].sort(),
    );
  });

  it('rxcrew/testing', () => {
    expect(Object.keys(testing).sort()).toEqual(['TestClient', 'createNodeTestScheduler', 'runNode', 'testNode']);
  });
});
