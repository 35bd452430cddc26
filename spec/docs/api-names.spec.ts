import * as rxcrew from 'rxcrew';
import * as llm from 'rxcrew/llm';
import * as operators from 'rxcrew/operators';
import * as testing from 'rxcrew/testing';
import * as voice from 'rxcrew/voice';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const API = readFileSync(join(__dirname, '..', '..', 'docs', 'api.md'), 'utf8');

/** The names docs/api.md mentions as code: `name`, `name(…)`, `new Name(…)`, `Name.member`. */
function documented(text: string): Set<string> {
  const names = new Set<string>();
  for (const [, code] of text.matchAll(/`([^`\n]+)`/g)) for (const [word] of code.matchAll(/[A-Za-z_$][\w$]*/g)) names.add(word);
  return names;
}

describe('docs/api.md', () => {
  const names = documented(API);
  const entries = { rxcrew, 'rxcrew/operators': operators, 'rxcrew/voice': voice, 'rxcrew/llm': llm, 'rxcrew/testing': testing };

  it.each(Object.entries(entries))('documents every name %s exports', (_entry, exports) => {
    expect(Object.keys(exports).filter((name) => !names.has(name))).toEqual([]);
  });

  it('names each entry point', () => {
    for (const entry of Object.keys(entries)) expect(API).toContain(`\`${entry}\``);
  });

  it('the check sees a name that is missing', () => {
    expect(documented('`CrewSession` and `new TestClient(session)` and `Events.AgentSpeak`')).toEqual(
      new Set(['CrewSession', 'new', 'TestClient', 'session', 'Events', 'AgentSpeak']),
    );
  });
});
