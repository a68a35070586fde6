import { Ajv, type ErrorObject, type Options } from 'ajv';
import { RE2JS } from 're2js';
import addFormatsModule from 'ajv-formats';
import { DATETIME_FORMAT, type GeometryKind } from './column-types.ts';
import { geometryProblem } from './geojson.ts';

// ajv-formats is CommonJS: its default export arrives wrapped under NodeNext
type AddFormats = (ajv: Ajv, options: { mode: 'full'; keywords: boolean }) => Ajv;
const addFormats = ((addFormatsModule as unknown as { default?: AddFormats }).default ?? addFormatsModule) as unknown as AddFormats;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DATETIME = /^(\d{4})-(\d{2})-(\d{2})(?: (\d{2}):(\d{2}):(\d{2})|T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:Z|[+-](\d{2}):(\d{2})))$/;
const DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

/** `yyyy-MM-dd HH:mm:ss` (UTC) or ISO 8601 `yyyy-MM-ddTHH:mm:ss[.fff](Z|±hh:mm)`, on a real calendar day. */
export function isDatetime(value: string): boolean {
  const m = DATETIME.exec(value);
  if (!m) return false;
  const y = +m[1]!;
  const mo = +m[2]!;
  const d = +m[3]!;
  const spaced = m[4] !== undefined;
  const h = +(spaced ? m[4]! : m[7]!);
  const mi = +(spaced ? m[5]! : m[8]!);
  const s = +(spaced ? m[6]! : m[9]!);
  if (!isCalendarDay(y, mo, d)) return false;
  if (h > 23 || mi > 59 || s > 59) return false;
  if (m[10] !== undefined && (+m[10] > 23 || +m[11]! > 59)) return false;
  return true;
}

/** Year 1 to 9999 (PostgreSQL has no year 0), a real month and day. */
function isCalendarDay(y: number, mo: number, d: number): boolean {
  return y >= 1 && mo >= 1 && mo <= 12 && d >= 1 && d <= DAYS[mo - 1]! && !(mo === 2 && d === 29 && !isLeap(y));
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

export function isDate(value: string): boolean {
  const m = DATE.exec(value);
  return m !== null && isCalendarDay(+m[1]!, +m[2]!, +m[3]!);
}

function datetimeMillis(value: string): number {
  return Date.parse(value.includes('T') ? value : `${value.replace(' ', 'T')}Z`);
}

type RegExpEngine = NonNullable<NonNullable<Options['code']>['regExp']>;

/**
 * Every `pattern` runs on RE2 (re2js): matching time is linear in the input, so no pattern can
 * block the server (`^(a+)+$` on 28 × a and `!` takes 11 s with RegExp). RE2 matches code points,
 * like RegExp's `u` flag that Ajv always asks for; it has no backreferences or lookaround.
 */
export const linearRegExp: RegExpEngine = Object.assign(
  (pattern: string): { test(text: string): boolean } => {
    try {
      return RE2JS.compile(RE2JS.translateRegExp(pattern));
    } catch (err) {
      throw new Error(`pattern ${JSON.stringify(pattern)} cannot be used: dstore matches patterns in linear time (RE2 syntax, no backreferences or lookaround): ${(err as Error).message}`);
    }
  },
  // only read by Ajv's standalone code generation, which dstore does not use
  { code: 'linearRegExp' },
);

export function createAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, allowUnionTypes: true, code: { regExp: linearRegExp } });
  addFormats(ajv, { mode: 'full', keywords: true });
  ajv.addFormat('uuid', UUID);
  ajv.addFormat('date', { type: 'string', validate: isDate, compare: (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0) });
  ajv.addFormat(DATETIME_FORMAT, { type: 'string', validate: isDatetime, compare: (a: string, b: string) => Math.sign(datetimeMillis(a) - datetimeMillis(b)) });
  ajv.addKeyword({
    keyword: 'geojson',
    type: 'object',
    schemaType: 'string',
    errors: true,
    validate: function geojson(kind: GeometryKind, data: unknown): boolean {
      const problem = geometryProblem(data, kind);
      (geojson as unknown as { errors: Partial<ErrorObject>[] }).errors = problem ? [{ keyword: 'geojson', message: problem, params: {} }] : [];
      return problem === null;
    },
  });
  return ajv;
}

/** One line per failing value, in words a client can act on. */
export function describeAjvError(e: ErrorObject): string {
  const where = e.instancePath ? `at ${e.instancePath} ` : '';
  switch (e.keyword) {
    case 'format':
      return `${where}must be ${formatWords(String(e.params.format))}`;
    case 'type':
      return `${where}must be ${e.params.type === 'integer' ? 'an integer' : `of type ${e.params.type}`}`;
    case 'enum':
      return `${where}must be one of ${JSON.stringify(e.params.allowedValues)}`;
    default:
      return `${where}${e.message ?? 'is invalid'}`;
  }
}

function formatWords(format: string): string {
  switch (format) {
    case 'uuid': return 'a UUID';
    case 'date': return 'a real calendar date yyyy-MM-dd';
    case DATETIME_FORMAT: return 'a real date-time yyyy-MM-dd HH:mm:ss, or ISO 8601 with an offset';
    default: return `a valid ${format}`;
  }
}

export const sharedAjv = createAjv();
