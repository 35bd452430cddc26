/** Test helpers for rxcrew sessions and nodes (`rxcrew/testing`). */
export { TestClient } from './test-client';
export type { EventMatcher, TestClientClose, TestClientOptions } from './test-client';
export { createNodeTestScheduler, runNode, testNode } from './marbles';
export type { NodeMarbles, RunNodeOptions } from './marbles';
export { testSession } from './test-session';
export type { SessionMarbles, TestSessionOptions, TestSessionResult } from './test-session';
export type { SessionFrame } from './marble-steps';
export { TwilioCaller } from './twilio-caller';
export type { SendAudioOptions, SendAudioResult, TwilioCallerEvent, TwilioCallerKind, TwilioCallerOptions } from './twilio-caller';
