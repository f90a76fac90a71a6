// The one YAML + schema pipeline behind config and inventory: strict parsing
// under the caller's code, schema defaults filled from the schema, and
// problems typed by key path in one ValidationError.
import t from 'tap';
import { Type } from '@sinclair/typebox';
import { checkSchema, parseStrictYaml, ValidationError } from '../../src/util/index.js';

t.test('parseStrictYaml throws the caller\'s code, naming the source', async (t) => {
  t.same(parseStrictYaml('', 'empty.yaml', 'ZTP_HOSTS_INVALID'), {}, 'an empty document is {}');
  t.same(parseStrictYaml('a: &x [1]\nb: *x\n', 'ok.yaml', 'ZTP_HOSTS_INVALID'), { a: [1], b: [1] }, 'a resolved alias is fine');
  for (const [what, text] of [
    ['duplicate key', 'a: 1\na: 2\n'],
    ['syntax error', 'a: [\n'],
    ['unresolved alias under a merge key', 'a:\n  <<: *missing\n'],
    ['alias bomb', ['a: &a [x, x, x, x, x, x, x, x, x]', 'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]', 'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]'].join('\n')],
  ] as const) {
    t.throws(() => parseStrictYaml(text, 'bad.yaml', 'ZTP_CONFIG_PARSE'), { code: 'ZTP_CONFIG_PARSE', message: /^bad\.yaml: not valid YAML: / }, what);
  }
});

t.test('checkSchema fills the schema\'s defaults and reports problems by key path', async (t) => {
  const S = Type.Object({ port: Type.Integer({ minimum: 1, default: 80 }), list: Type.Array(Type.Object({ name: Type.String() }, { additionalProperties: false })) }, { additionalProperties: false });
  const ok = checkSchema(S, { list: [] });
  t.same(ok, { value: { port: 80, list: [] }, problems: [] });
  const bad = checkSchema(S, { port: 0, list: [{ name: 'a', nmae: 'b' }], extra: 1 });
  t.same(bad.problems.map((p) => [p.path, p.unknownKey === true]).sort(), [['extra', true], ['list[0].nmae', true], ['port', false]]);
  t.match(bad.problems.find((p) => p.path === 'port')?.message, /^expected integer from 1 to .*, got number 0$/);
});

t.test('ValidationError carries typed problems and lists them in its message', async (t) => {
  const problems = [{ path: 'a.b', message: 'expected x' }, { path: 'c[0]', message: 'unknown key', unknownKey: true }];
  const err = new ValidationError('ZTP_CONFIG_INVALID', 'invalid config f.yaml', problems);
  t.equal(err.code, 'ZTP_CONFIG_INVALID');
  t.equal(err.exitCode, 3);
  t.same(err.problems, problems);
  t.equal(err.message, 'invalid config f.yaml:\n  a.b: expected x\n  c[0]: unknown key');
  t.equal(new ValidationError('ZTP_HOSTS_INVALID', 'inventory h.yaml has 2 problems', problems, { oneLine: true }).message, 'inventory h.yaml has 2 problems: a.b: expected x; c[0]: unknown key');
});
