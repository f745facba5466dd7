import { readFileSync } from 'node:fs';
import path from 'node:path';
import { SETTING_NAMES, settings, type Setting } from '../src';

// The README's configuration table is for people; this keeps it from drifting from the schema.
describe('README configuration table', () => {
  const readme = readFileSync(path.resolve(__dirname, '../../../README.md'), 'utf8');
  const rows = new Map(
    [...readme.matchAll(/^\| `([A-Z][A-Z0-9_]*)` +\| (.+?) +\| (.+?) +\|$/gm)].map((m) => [
      m[1]!,
      { def: m[2]!, meaning: m[3]! },
    ]),
  );

  it('lists every setting exactly once, and nothing else', () => {
    expect([...rows.keys()].sort()).toEqual([...SETTING_NAMES].sort());
  });

  it.each(SETTING_NAMES)('states the default of %s', (name) => {
    const fallback = (settings[name] as Setting).default;
    expect(rows.get(name)!.def).toBe(fallback === undefined ? '(unset)' : `\`${fallback}\``);
  });
});
