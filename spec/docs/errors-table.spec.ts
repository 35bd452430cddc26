import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorEntry, ErrorRegistry } from '../../lib/errors';
import { ROOT } from '../support/source-files';
import { ERRORS_DOC, factsOf, parseErrorTable, TABLE_END, TABLE_START, TODO, updateErrorsDoc } from '../../scripts/errors-table';

const doc = readFileSync(ERRORS_DOC, 'utf8');
const rows = parseErrorTable(doc);
const entries: ErrorEntry[] = Object.values(ErrorRegistry);

describe('docs/errors.md against the registry (lib/errors.ts)', () => {
  it('is what `npm run docs:errors` makes of it (run it when this fails)', () => {
    expect(doc).toContain(TABLE_START);
    expect(doc).toContain(TABLE_END);
    expect(updateErrorsDoc(doc)).toBe(doc);
  });

  it('lists every code of the registry once, in its order, with its class, severity and close code', () => {
    expect(rows.map(({ code, class: cls, severity, close }) => ({ code, class: cls, severity, close }))).toEqual(entries.map(factsOf));
  });

  it('says when each code happens and how to fix it', () => {
    const unwritten = rows.filter((row) => row.when === '' || row.fix === '' || row.when === TODO || row.fix === TODO).map((row) => row.code);
    expect(unwritten).toEqual([]);
  });

  it('names, in the close-code table, each code that closes with that code', () => {
    const closeRows = new Map(
      doc
        .slice(doc.indexOf('## Close codes'))
        .split('\n')
        .filter((line) => /^\| \d{4} \|/.test(line))
        .map((line) => [Number(line.slice(2, 6)), line]),
    );
    const unnamed = entries
      .filter((e) => e.close !== undefined && !closeRows.get(e.close)?.includes(`\`${e.code}\``))
      .map((e) => `${e.close} ${e.code}`);
    expect(unnamed).toEqual([]);
  });

  it('every CREW_ERR_ code any doc or the README mentions is in the registry', () => {
    const docs = readdirSync(join(ROOT, 'docs'))
      .filter((name) => name.endsWith('.md'))
      .map((name) => join(ROOT, 'docs', name));
    const known = new Set(entries.map((e) => e.code));
    const unknown = [...docs, join(ROOT, 'README.md')].flatMap((file) =>
      [...readFileSync(file, 'utf8').matchAll(/CREW_ERR_[A-Z_]+/g)].map((m) => m[0]).filter((code) => !known.has(code as ErrorEntry['code'])),
    );
    expect([...new Set(unknown)]).toEqual([]);
  });

  it('catches a stale table: a changed close code, a missing row, a row for a code that is gone', () => {
    const registry = { ...ErrorRegistry, IDLE_TIMEOUT: { ...ErrorRegistry.IDLE_TIMEOUT, close: 1011 } };
    expect(updateErrorsDoc(doc, registry)).not.toBe(doc);
    const { SERVER_FULL: _gone, ...fewer } = ErrorRegistry;
    expect(updateErrorsDoc(doc, fewer)).not.toBe(doc);
    const more = { ...ErrorRegistry, NEW_ONE: { code: 'CREW_ERR_NEW_ONE', severity: ['warning'] } } as const;
    const regenerated = updateErrorsDoc(doc, more);
    expect(parseErrorTable(regenerated).at(-1)).toMatchObject({ code: '`CREW_ERR_NEW_ONE`', class: '—', severity: 'warning', when: TODO, fix: TODO });
  });
});
