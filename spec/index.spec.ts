import * as rxcrew from 'rxcrew';
import * as operators from 'rxcrew/operators';
import * as testing from 'rxcrew/testing';

// API changes show up in review: update these lists on purpose.
describe('public exports', () => {
  it('rxcrew', () => {
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
  "InvalidArgumentError",
  "InvalidEdgeError",
  "LlmError",
  "LlmErrorCodes",
  "NodeSetupError",
  "OPENAI_CLIENT_DEFAULTS",
  "OpenAIChatClient",
  "OutputCrewNode",
  "SessionClosedError",
  "SessionContext",
  "UnknownNodeError",
  "canonicalType",
  "defaultResponder",
  "defineEvent",
  "event",
  "getEventDefinition",
  "isAbortError",
  "node",
  "openAIResponder",
  "registeredEventTypes",
  "scriptedResponder",
  "tool",
]
`);
    expect(rxcrew.AtomsCrewApp).toBe(rxcrew.CrewApp);
  });

  it('rxcrew/operators', () => {
    expect(Object.keys(operators).sort()).toEqual(['AudioPacer', 'InterruptedError', 'interruptibleConcatMap', 'ofType']);
  });

  it('rxcrew/testing', () => {
    expect(Object.keys(testing).sort()).toEqual(['TestClient', 'createNodeTestScheduler', 'runNode', 'testNode']);
  });
});
