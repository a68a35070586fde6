/**
 * Values no engine may choke on (SPEC §4): checked on every value of every column type
 * before ajv or any serializer sees it. Every walk here uses an explicit stack, never
 * recursion, so a value nested a million levels deep is refused, not a stack overflow.
 */

/** Arrays/objects a column value may nest: `[[1]]` has 2 levels, a scalar 0; 32 levels are accepted, 33 refused. */
export const MAX_VALUE_DEPTH = 32;

/** Arrays/objects a whole request body may nest: a bulk PUT (array, item, 32-level value) or a blueprint fit well under it. */
export const MAX_BODY_DEPTH = 64;

/** The largest integer a 64-bit float holds exactly together with its neighbours (2^53 − 1). */
export const MAX_EXACT_INTEGER = Number.MAX_SAFE_INTEGER;

/** UTF-8 bytes a `string` value (or `string[]` element) may hold: Elasticsearch's `keyword` refuses longer terms (SPEC §11). */
export const MAX_KEYWORD_BYTES = 32_766;

export interface ValueLimits {
  /** Refuse integral numbers beyond ±(2^53 − 1): for `json` values, whose numbers engines keep as sent. */
  exactIntegers: boolean;
  /** Refuse strings longer than this many UTF-8 bytes (the column type's `maxStringBytes`). */
  maxStringBytes?: number;
}

/** Why a string is too long for a column that holds at most `max` UTF-8 bytes, as a phrase after "a string", or null. */
export function stringLengthProblem(text: string, max: number): string | null {
  // a UTF-8 character is at most 3 bytes per UTF-16 code unit: shorter strings need no count
  if (text.length * 3 <= max) return null;
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes <= max) return null;
  return `of ${bytes} UTF-8 bytes, over the ${max.toLocaleString('en-US')} a string column holds in every engine (Elasticsearch keyword); use text for long values`;
}

interface Frame {
  value: unknown;
  depth: number;
  parent: Frame | null;
  key: string | number | null;
}

// Code units, no `u` flag: a lone surrogate is only visible this way.
const BAD_CHAR = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** What is wrong with a string no engine can hold (U+0000, an unpaired surrogate), with its character index, or null. */
export function stringProblem(text: string): string | null {
  const m = BAD_CHAR.exec(text);
  if (!m) return null;
  const unit = text.charCodeAt(m.index);
  if (unit === 0) return `contains U+0000 at character ${m.index}`;
  return `contains an unpaired UTF-16 surrogate U+${unit.toString(16).toUpperCase()} at character ${m.index}`;
}

function escapeToken(key: string | number): string {
  return String(key).replace(/~/g, '~0').replace(/\//g, '~1');
}

/** The JSON pointer of a frame inside its column value ("" for the value itself). */
function pointerOf(frame: Frame): string {
  const tokens: string[] = [];
  for (let f: Frame | null = frame; f && f.key !== null; f = f.parent) tokens.push(escapeToken(f.key));
  return tokens.length ? `/${tokens.reverse().join('/')}` : '';
}

/** Why a number cannot be stored as sent, as a phrase after "a number", or null. */
function numberProblem(n: number, limits: ValueLimits): string | null {
  if (!Number.isFinite(n)) return `beyond the range of a 64-bit float (it parsed as ${n}), which no engine can store`;
  if (limits.exactIntegers && Number.isInteger(n) && !Number.isSafeInteger(n)) {
    return `that is an integer beyond ±${MAX_EXACT_INTEGER} (2^53 − 1), which would not be stored exactly as sent; send it as a string`;
  }
  return null;
}

// Any character BAD_CHAR could match: a plain class is one cheap pass, and almost every string has none of them.
const MAYBE_BAD_CHAR = /[\u0000\ud800-\udfff]/;

function cleanString(text: string, limits: ValueLimits): boolean {
  if (MAYBE_BAD_CHAR.test(text) && stringProblem(text) !== null) return false;
  return limits.maxStringBytes === undefined || stringLengthProblem(text, limits.maxStringBytes) === null;
}

function cleanNumber(n: number, limits: ValueLimits): boolean {
  return Number.isFinite(n) && !(limits.exactIntegers && Number.isInteger(n) && !Number.isSafeInteger(n));
}

// The walk's stack, shared by every call (the walk never yields): no frame objects for the clean, common case.
const pendingValues: unknown[] = [];
const pendingDepths: number[] = [];

/**
 * Whether valueLimitProblem finds nothing in a value: the same checks, without the frames and
 * pointers that only a problem's message needs.
 */
function isWithinLimits(value: unknown, limits: ValueLimits): boolean {
  if (typeof value === 'string') return cleanString(value, limits);
  if (typeof value === 'number') return cleanNumber(value, limits);
  if (typeof value !== 'object' || value === null) return true;
  let top = 0;
  pendingValues[top] = value;
  pendingDepths[top++] = 0;
  let clean = true;
  walk: while (top) {
    top--;
    const v = pendingValues[top] as object;
    const depth = pendingDepths[top]! + 1;
    pendingValues[top] = undefined;
    if (depth > MAX_VALUE_DEPTH) {
      clean = false;
      break;
    }
    const keys = Array.isArray(v) ? null : Object.keys(v);
    const length = keys ? keys.length : (v as unknown[]).length;
    for (let i = 0; i < length; i++) {
      let child: unknown;
      if (keys) {
        const key = keys[i]!;
        if (MAYBE_BAD_CHAR.test(key) && stringProblem(key) !== null) {
          clean = false;
          break walk;
        }
        child = (v as Record<string, unknown>)[key];
      } else child = (v as unknown[])[i];
      if (typeof child === 'string') {
        if (!cleanString(child, limits)) {
          clean = false;
          break walk;
        }
      } else if (typeof child === 'number') {
        if (!cleanNumber(child, limits)) {
          clean = false;
          break walk;
        }
      } else if (typeof child === 'object' && child !== null) {
        pendingValues[top] = child;
        pendingDepths[top++] = depth;
      }
    }
  }
  for (let i = 0; i < top; i++) pendingValues[i] = undefined;
  return clean;
}

/**
 * The first thing in one column value that no engine can hold, in words with its JSON pointer
 * inside the value, or null: a bad string or object key, nesting deeper than MAX_VALUE_DEPTH, a number that is not finite
 * (or, with `exactIntegers`, an integer a 64-bit float does not keep exactly).
 */
export function valueLimitProblem(value: unknown, limits: ValueLimits): string | null {
  if (isWithinLimits(value, limits)) return null;
  const stack: Frame[] = [{ value, depth: 0, parent: null, key: null }];
  while (stack.length) {
    const frame = stack.pop()!;
    const v = frame.value;
    if (typeof v === 'string') {
      const problem = stringProblem(v);
      if (problem) return frame.key === null ? problem : `holds a string at ${pointerOf(frame)} that ${problem}`;
      const long = limits.maxStringBytes === undefined ? null : stringLengthProblem(v, limits.maxStringBytes);
      if (long) return frame.key === null ? `is a string ${long}` : `holds a string at ${pointerOf(frame)} ${long}`;
      continue;
    }
    if (typeof v === 'number') {
      const problem = numberProblem(v, limits);
      if (problem) return frame.key === null ? `is a number ${problem}` : `holds a number at ${pointerOf(frame)} ${problem}`;
      continue;
    }
    if (typeof v !== 'object' || v === null) continue;
    const depth = frame.depth + 1;
    if (depth > MAX_VALUE_DEPTH) return `is nested deeper than ${MAX_VALUE_DEPTH} levels of arrays and objects (level ${depth} at ${pointerOf(frame)})`;
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], depth, parent: frame, key: i });
      continue;
    }
    const keys = Object.keys(v);
    for (const key of keys) {
      const problem = stringProblem(key);
      if (problem) return `has an object key ${JSON.stringify(key)}${frame.key === null ? '' : ` in the object at ${pointerOf(frame)}`} that ${problem}`;
    }
    for (let i = keys.length - 1; i >= 0; i--) stack.push({ value: (v as Record<string, unknown>)[keys[i]!], depth, parent: frame, key: keys[i]! });
  }
  return null;
}

/**
 * Where a parsed JSON document first nests arrays/objects deeper than `max` levels (a scalar is 0 levels):
 * the JSON pointer of that container, shortened to its first tokens, or null when it is within `max`.
 */
export function tooDeepAt(document: unknown, max: number): string | null {
  const stack: Frame[] = [{ value: document, depth: 0, parent: null, key: null }];
  while (stack.length) {
    const frame = stack.pop()!;
    const v = frame.value;
    if (typeof v !== 'object' || v === null) continue;
    if (frame.depth + 1 > max) return shortened(pointerOf(frame));
    const push = (child: unknown, key: string | number) => {
      if (typeof child === 'object' && child !== null) stack.push({ value: child, depth: frame.depth + 1, parent: frame, key });
    };
    if (Array.isArray(v)) v.forEach(push);
    else for (const key of Object.keys(v)) push((v as Record<string, unknown>)[key], key);
  }
  return null;
}

/** A pointer of a too-deep value is mostly `/0/0/0…`: the first tokens say where it starts. */
function shortened(pointer: string): string {
  const tokens = pointer.split('/');
  return tokens.length > 6 ? `${tokens.slice(0, 6).join('/')}/…` : pointer;
}
