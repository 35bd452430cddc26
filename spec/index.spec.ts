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
  "DuplicateNodeError",
  "EVENT_ALIASES",
  "ErrorCodes",
  "EventDefinedError",
  "Events",
  "GraphCycleError",
  "GraphLockedError",
  "InvalidArgumentError",
  "InvalidEdgeError",
  "NodeSetupError",
  "OutputCrewNode",
  "SessionClosedError",
  "SessionContext",
  "UnknownNodeError",
  "canonicalType",
  "defineEvent",
  "event",
  "getEventDefinition",
  "node",
  "registeredEventTypes",
  "tool",
]
`);
    expect(rxcrew.AtomsCrewApp).toBe(rxcrew.CrewApp);
  });

  it('rxcrew/operators', () => {
    expect(Object.keys(operators).sort()).toEqual(['InterruptedError', 'interruptibleConcatMap', 'ofType']);
  });

  it('rxcrew/testing', () => {
    expect(Object.keys(testing).sort()).toEqual(['TestClient', 'createNodeTestScheduler', 'runNode', 'testNode']);
  });
});
