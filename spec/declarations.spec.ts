import ts from 'typescript';
import { join, relative } from 'node:path';

const ROOT = join(__dirname, '..');
const ENTRIES = ['lib/index.ts', 'operators/index.ts', 'operators/voice.ts', 'lib/llm/index.ts', 'lib/testing/index.ts'];

/** The declaration files `npm run build` would write for the package's entry points, in memory. */
function declarations(): Map<string, string> {
  const config = ts.getParsedCommandLineOfConfigFile(join(ROOT, 'tsconfig.build.json'), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    },
  });
  if (!config) throw new Error('tsconfig.build.json did not parse');
  const options = { ...config.options, emitDeclarationOnly: true, declaration: true, noEmit: false, sourceMap: false, declarationMap: false };
  const program = ts.createProgram(ENTRIES.map((e) => join(ROOT, e)), options);
  const out = new Map<string, string>();
  const result = program.emit(undefined, (file, text) => out.set(relative(join(ROOT, 'dist'), file), text));
  const errors = ts.getPreEmitDiagnostics(program).concat(result.diagnostics);
  if (errors.length > 0) throw new Error(ts.formatDiagnostics(errors, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => ROOT, getNewLine: () => '\n' }));
  return out;
}

/** Every module a declaration file imports or re-exports, as written. */
function importsOf(text: string): string[] {
  const found: string[] = [];
  const source = ts.createSourceFile('x.d.ts', text, ts.ScriptTarget.ES2022, true);
  const visit = (n: ts.Node): void => {
    if ((ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) found.push(n.moduleSpecifier.text);
    if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument) && ts.isStringLiteral(n.argument.literal)) found.push(n.argument.literal.text);
    ts.forEachChild(n, visit);
  };
  visit(source);
  return found;
}

describe('the published declarations', () => {
  const files = declarations();

  it('are written for every entry point', () => {
    for (const entry of ENTRIES) expect(files.has(entry.replace(/\.ts$/, '.d.ts'))).toBe(true);
  });

  it('never import from internal/ outside internal/ (a user could not name those types)', () => {
    const leaks: string[] = [];
    for (const [file, text] of files) {
      if (file.includes('internal/')) continue;
      for (const spec of importsOf(text)) if (/(^|\/)internal(\/|$)/.test(spec)) leaks.push(`${file} -> ${spec}`);
    }
    expect(leaks).toEqual([]);
  });

  it('the check itself sees an import from internal/', () => {
    expect(importsOf("import { X } from './internal/runtime';\nexport type Y = import('../internal/fanout').Fanout<number>;")).toEqual(['./internal/runtime', '../internal/fanout']);
  });
});
