// Values no engine may choke on (SPEC §4): each limit and its boundary, and that no walk recurses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_BODY_DEPTH, MAX_VALUE_DEPTH, stringProblem, tooDeepAt, valueLimitProblem } from '../../src/schema/limits.ts';

const plain = { exactIntegers: false };
const json = { exactIntegers: true };

/** `levels` arrays inside each other, innermost holding `inner`: nest(1) is [inner]. */
function nest(levels: number, inner: unknown = 1): unknown {
  let v = inner;
  for (let i = 0; i < levels; i++) v = [v];
  return v;
}

/** `levels` objects inside each other under key "k". */
function nestObjects(levels: number): unknown {
  let v: unknown = 'leaf';
  for (let i = 0; i < levels; i++) v = { k: v };
  return v;
}

test('the limits are the documented ones', () => {
  assert.equal(MAX_VALUE_DEPTH, 32);
  assert.equal(MAX_BODY_DEPTH, 64);
});

test('a value with 32 levels of arrays or objects is accepted, 33 is refused with where', () => {
  assert.equal(valueLimitProblem(nest(32), json), null);
  assert.equal(valueLimitProblem(nestObjects(32), json), null);
  assert.equal(valueLimitProblem({ a: nest(31) }, json), null, 'an object around 31 arrays is 32 levels');
  const arrays = valueLimitProblem(nest(33), json);
  assert.match(arrays ?? '', /deeper than 32 levels.*level 33 at \/0(\/0){31}\)/);
  const objects = valueLimitProblem(nestObjects(33), plain);
  assert.match(objects ?? '', /deeper than 32 levels.*at \/k(\/k){31}\)/);
  assert.match(valueLimitProblem({ a: nest(32) }, json) ?? '', /deeper than 32/);
  // scalars count as no level: 32 arrays around a string, or around an empty array (that is 33)
  assert.equal(valueLimitProblem(nest(32, 'x'), plain), null);
  assert.match(valueLimitProblem(nest(32, []), plain) ?? '', /deeper than 32/);
  assert.match(valueLimitProblem(nest(32, {}), plain) ?? '', /deeper than 32/);
});

test('a value nested a million levels is refused without a stack overflow', () => {
  const deep = JSON.parse('['.repeat(1_000_000) + ']'.repeat(1_000_000));
  assert.match(valueLimitProblem(deep, json) ?? '', /deeper than 32/);
  assert.equal(tooDeepAt(deep, MAX_BODY_DEPTH), '/0/0/0/0/0/…');
});

test('U+0000 in a string, at the top or inside, is refused with the character and the pointer', () => {
  assert.equal(valueLimitProblem('ab\u0000c', plain), 'contains U+0000 at character 2');
  assert.equal(valueLimitProblem(['ok', 'x\u0000'], plain), 'holds a string at /1 that contains U+0000 at character 1');
  assert.equal(valueLimitProblem({ a: { 'b/c~': ['\u0000'] } }, json), 'holds a string at /a/b~1c~0/0 that contains U+0000 at character 0');
});

test('U+0000 or a lone surrogate in an object key is refused, at any depth', () => {
  assert.equal(valueLimitProblem({ 'a\u0000': 1 }, json), 'has an object key "a\\u0000" that contains U+0000 at character 1');
  assert.equal(valueLimitProblem({ x: [{ '\ud800': 1 }] }, json), 'has an object key "\\ud800" in the object at /x/0 that contains an unpaired UTF-16 surrogate U+D800 at character 0');
});

test('unpaired surrogates are refused, a valid pair is accepted', () => {
  assert.equal(stringProblem('\ud800'), 'contains an unpaired UTF-16 surrogate U+D800 at character 0');
  assert.equal(stringProblem('a\udc00'), 'contains an unpaired UTF-16 surrogate U+DC00 at character 1');
  assert.equal(stringProblem('\ud83d'), 'contains an unpaired UTF-16 surrogate U+D83D at character 0', 'a high surrogate at the end');
  assert.equal(stringProblem('\ude00\ud83d'), 'contains an unpaired UTF-16 surrogate U+DE00 at character 0', 'a pair in the wrong order');
  assert.equal(stringProblem('\ud83d\ude00'), null);
  assert.equal(stringProblem('emoji \ud83d\ude00 and ünïcødé'), null);
  assert.equal(valueLimitProblem({ '\ud83d\ude00': '\ud83d\ude00' }, json), null);
  assert.equal(stringProblem(''), null);
});

test('numbers that are not finite are refused in every column; 1e400 and -1e400 parse to ±Infinity', () => {
  const { big, small } = JSON.parse('{"big": 1e400, "small": -1e400}');
  assert.equal(big, Infinity);
  assert.equal(small, -Infinity);
  assert.match(valueLimitProblem(small, plain) ?? '', /^is a number beyond the range of a 64-bit float \(it parsed as -Infinity\)/);
  assert.match(valueLimitProblem({ a: [big] }, json) ?? '', /^holds a number at \/a\/0 beyond the range of a 64-bit float \(it parsed as Infinity\)/);
  assert.equal(valueLimitProblem(1.7976931348623157e308, plain), null, 'the largest finite float is fine');
  assert.equal(valueLimitProblem(5e-324, plain), null);
});

test('in json values, integers beyond ±(2^53 − 1) are refused: 2^53 + 1 parses to 2^53, so 2^53 itself is not exact either', () => {
  assert.equal(JSON.parse('9007199254740993'), 2 ** 53);
  assert.equal(valueLimitProblem(2 ** 53 - 1, json), null);
  assert.equal(valueLimitProblem(-(2 ** 53 - 1), json), null);
  assert.match(valueLimitProblem(JSON.parse('9007199254740993'), json) ?? '', /integer beyond ±9007199254740991/);
  assert.match(valueLimitProblem(2 ** 53, json) ?? '', /integer beyond/);
  assert.match(valueLimitProblem({ n: [JSON.parse('-9007199254740993')] }, json) ?? '', /^holds a number at \/n\/0 that is an integer beyond/);
  assert.match(valueLimitProblem(JSON.parse('12345678901234567890'), json) ?? '', /integer beyond/);
  assert.equal(valueLimitProblem(1.5, json), null);
  assert.equal(valueLimitProblem(2 ** 53, plain), null, 'outside json values the column type decides (float, integer)');
});

test('ordinary values pass', () => {
  for (const v of [null, true, 0, -1, 1.5, '', 'x', [], {}, { type: 'Point', coordinates: [4.9, 52.3] }, { a: [1, { b: null }] }]) assert.equal(valueLimitProblem(v, json), null, JSON.stringify(v));
});

test('tooDeepAt counts arrays and objects: a document with `max` levels is fine, one more is not, and says where', () => {
  assert.equal(tooDeepAt(1, 0), null);
  assert.equal(tooDeepAt([], 0), '');
  assert.equal(tooDeepAt(nest(64), 64), null);
  assert.equal(tooDeepAt(nest(65), 64), '/0/0/0/0/0/…');
  assert.equal(tooDeepAt({ a: [{ b: nest(61) }] }, 64), null);
  assert.equal(tooDeepAt({ a: [{ b: nest(62) }] }, 64), '/a/0/b/0/0/…');
  assert.equal(tooDeepAt([1, 'x', [[]], { a: {} }], 3), null);
  assert.equal(tooDeepAt({ ok: [1], 'c/d': [[[]]] }, 3), '/c~1d/0/0');
});

test('a string column holds at most 32,766 UTF-8 bytes, counted in bytes, not characters', async () => {
  const { MAX_KEYWORD_BYTES, stringLengthProblem } = await import('../../src/schema/limits.ts');
  assert.equal(MAX_KEYWORD_BYTES, 32_766);
  assert.equal(stringLengthProblem('x'.repeat(32_766), MAX_KEYWORD_BYTES), null);
  assert.match(stringLengthProblem('x'.repeat(32_767), MAX_KEYWORD_BYTES) ?? '', /^of 32767 UTF-8 bytes, over the 32,766 .*use text for long values$/);
  // 'é' is two bytes: 16,383 of them fit, 16,384 do not, though far fewer characters than the limit
  assert.equal(stringLengthProblem('é'.repeat(16_383), MAX_KEYWORD_BYTES), null);
  assert.match(stringLengthProblem('é'.repeat(16_384), MAX_KEYWORD_BYTES) ?? '', /of 32768 UTF-8 bytes/);
  assert.equal(valueLimitProblem('x'.repeat(40_000), plain), null, 'without maxStringBytes (text, json) nothing is measured');
});
