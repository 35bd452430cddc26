/*
 * The phone demo: `npm run demo:phone` serves a Twilio Media Stream at
 * ws://localhost:8080/twilio and its webhook at POST /twilio/voice (point a
 * Twilio number's "A call comes in" at https://YOUR-HOST/twilio/voice, see
 * docs/telephony.md). PUBLIC_URL sets the host put in the TwiML, TWILIO_AUTH_TOKEN
 * turns on signature checks; OPENAI_API_KEY / SMALLEST_API_KEY as in the voice demo.
 */
import { CrewApp } from 'rxcrew';
import { PulseEngine } from 'rxcrew/voice';
import { createPhoneSetup } from './setup';

const app = new CrewApp({
  setup: createPhoneSetup({ stt: process.env.SMALLEST_API_KEY ? new PulseEngine() : undefined }),
  twilio: {
    ...(process.env.PUBLIC_URL ? { publicUrl: process.env.PUBLIC_URL } : {}),
    ...(process.env.TWILIO_AUTH_TOKEN ? { authToken: process.env.TWILIO_AUTH_TOKEN } : {}),
  },
  ...(process.env.HOST ? { host: process.env.HOST } : {}),
});

app.run().catch((err: unknown) => {
  console.error(`phone demo: cannot start the server: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
