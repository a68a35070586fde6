/**
 * The conversion table of SPEC §9: how a column's value changes when its type changes
 * between two adjacent snapshots. A backwards step uses the same table from the later type
 * to the earlier one.
 */
import { columnValueProblem, type Column } from '../schema/blueprint.ts';
import { COLUMN_TYPES, type GeometryKind } from '../schema/column-types.ts';

export type Converted = { ok: true; value: unknown } | { ok: false; problem: string };

/** A column type seen as one value or many of a base type: `string[]` is many `string`, `point[]` many `point`. */
interface Shape {
  base: string;
  many: boolean;
  /** For geometries: the GeoJSON kinds of one element and of many. */
  geometry?: { single: GeometryKind; multi: GeometryKind };
}

const SCALARS = ['uuid', 'string', 'text', 'date', 'datetime', 'float', 'integer', 'boolean'];
const PARSED_FROM_TEXT = ['uuid', 'date', 'datetime', 'integer', 'float', 'boolean'];
const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

function shapeOf(type: string): Shape {
  const t = COLUMN_TYPES.get(type);
  if (!t) throw new Error(`unknown column type ${type}`);
  const many = type.endsWith('[]');
  const base = many ? type.slice(0, -2) : type;
  if (!t.geometry) return { base, many };
  const single = COLUMN_TYPES.get(base)!.geometry!;
  return { base, many, geometry: { single, multi: COLUMN_TYPES.get(`${base}[]`)!.geometry! } };
}

/** Whether one value of base type `from` can ever become one of base type `to` (the table's rows but the array ones). */
function baseConvertible(from: string, to: string): boolean {
  if (from === to || to === 'json' || from === 'json') return true;
  if (from === 'integer' && to === 'float') return true;
  if (from === 'float' && to === 'integer') return true;
  if (SCALARS.includes(from) && (to === 'string' || to === 'text')) return true;
  if ((from === 'string' || from === 'text') && PARSED_FROM_TEXT.includes(to)) return true;
  if (from === 'date' && to === 'datetime') return true;
  if (from === 'datetime' && to === 'date') return true;
  return false;
}

/** Whether a column of type `from` can be carried into one of type `to`; false is the table's last row ("use a new column"). */
export function convertible(from: string, to: string): boolean {
  if (from === to || to === 'json' || from === 'json') return true;
  return baseConvertible(shapeOf(from).base, shapeOf(to).base);
}

const typeOnly = new Map<string, Column>();

/** Why a value is not a valid value of the type (its type alone: validation is the target item's business). */
function typeProblem(type: string, value: unknown): string | null {
  let column = typeOnly.get(type);
  if (!column) typeOnly.set(type, (column = { type }));
  return columnValueProblem(column, value);
}

function refused(value: unknown, to: string, why: string): Converted {
  const shown = JSON.stringify(value);
  return { ok: false, problem: `cannot be copied as ${to}: ${shown.length > 60 ? `${shown.slice(0, 57)}...` : shown} ${why}` };
}

/** Converts one non-null value of base type `from` into base type `to`. */
function convertBase(from: string, to: string, value: unknown): Converted {
  if (from === to || to === 'json') return { ok: true, value };
  if (from === 'json') {
    const problem = typeProblem(to, value);
    return problem ? refused(value, to, `is not a valid ${to}: it ${problem}`) : { ok: true, value };
  }
  if (from === 'float' && to === 'integer') {
    return typeProblem('integer', value) ? refused(value, to, 'is not a whole number in 32-bit range') : { ok: true, value };
  }
  if (from === 'integer' && to === 'float') return { ok: true, value };
  if (to === 'string' || to === 'text') return { ok: true, value: typeof value === 'string' ? value : JSON.stringify(value) };
  if ((from === 'string' || from === 'text') && typeof value === 'string') return parse(value, to);
  if (from === 'date' && to === 'datetime' && typeof value === 'string') return { ok: true, value: `${value} 00:00:00` };
  if (from === 'datetime' && to === 'date' && typeof value === 'string') return utcDate(value);
  return { ok: false, problem: `cannot be converted from ${from} to ${to}: use a new column` };
}

/** Text into uuid, date, datetime, integer, float or boolean, when it spells a valid one. */
function parse(text: string, to: string): Converted {
  let value: unknown = text;
  if (to === 'integer' || to === 'float') {
    if (!JSON_NUMBER.test(text)) return refused(text, to, `is not a number`);
    value = Number(text);
  } else if (to === 'boolean') {
    if (text !== 'true' && text !== 'false') return refused(text, to, 'is not true or false');
    value = text === 'true';
  }
  const problem = typeProblem(to, value);
  return problem ? refused(text, to, `is not a valid ${to}: it ${problem}`) : { ok: true, value };
}

const DATETIME_PARTS = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::\d{2}(?:\.\d+)?)?(Z|([+-])(\d{2}):(\d{2}))?$/;

/** The UTC calendar date of a datetime (`yyyy-MM-dd HH:mm:ss` is UTC already; an offset moves it). */
function utcDate(value: string): Converted {
  const m = DATETIME_PARTS.exec(value);
  if (!m) return refused(value, 'date', 'is not a datetime');
  const offset = m[7] ? (m[7] === '-' ? -1 : 1) * (+m[8]! * 60 + +m[9]!) : 0;
  // setUTCFullYear, unlike Date.UTC, keeps years below 100 as they are
  const at = new Date(0);
  at.setUTCFullYear(+m[1]!, +m[2]! - 1, +m[3]!);
  at.setUTCHours(+m[4]!, +m[5]! - offset, 0, 0);
  const year = at.getUTCFullYear();
  if (year < 1 || year > 9999) return refused(value, 'date', 'has no UTC date in years 1 to 9999');
  const date = `${String(year).padStart(4, '0')}-${String(at.getUTCMonth() + 1).padStart(2, '0')}-${String(at.getUTCDate()).padStart(2, '0')}`;
  return { ok: true, value: date };
}

/** The elements of a many-valued column: array elements, or the single geometries of a Multi* geometry. */
function elementsOf(shape: Shape, value: unknown): unknown[] | null {
  if (shape.geometry) {
    const coordinates = (value as { coordinates?: unknown } | null)?.coordinates;
    return Array.isArray(coordinates) ? coordinates.map((c) => ({ type: shape.geometry!.single, coordinates: c })) : null;
  }
  return Array.isArray(value) ? value : null;
}

function fromElements(shape: Shape, elements: unknown[]): unknown {
  if (!shape.geometry) return elements;
  return { type: shape.geometry.multi, coordinates: elements.map((e) => (e as { coordinates: unknown }).coordinates) };
}

function convertElements(from: Shape, to: Shape, elements: unknown[]): { ok: true; values: unknown[] } | { ok: false; problem: string } {
  const values: unknown[] = [];
  for (let i = 0; i < elements.length; i++) {
    const element = elements[i];
    if (element === null || element === undefined) {
      values.push(null);
      continue;
    }
    const converted = convertBase(from.base, to.base, element);
    if (!converted.ok) return { ok: false, problem: elements.length > 1 ? `element ${i} ${converted.problem}` : converted.problem };
    values.push(converted.value);
  }
  return { ok: true, values };
}

/** Converts a column's value from type `from` to type `to` per SPEC §9; `null` stays `null`. */
export function convertValue(from: string, to: string, value: unknown): Converted {
  if (value === null || value === undefined) return { ok: true, value: null };
  if (from === to || to === 'json') return { ok: true, value };
  if (from === 'json') return convertBase('json', to, value);
  const source = shapeOf(from);
  const target = shapeOf(to);
  if (!baseConvertible(source.base, target.base)) return { ok: false, problem: `cannot be converted from ${from} to ${to}: use a new column` };
  if (!source.many) {
    const converted = convertElements(source, target, [value]);
    if (!converted.ok) return converted;
    return { ok: true, value: target.many ? fromElements(target, converted.values) : converted.values[0] };
  }
  const elements = elementsOf(source, value);
  if (!elements) return refused(value, to, `is not a valid ${from}`);
  if (!target.many) {
    if (elements.length === 0) return { ok: true, value: null };
    if (elements.length > 1) return refused(value, to, `has ${elements.length} elements; only one fits a ${to}`);
  }
  const converted = convertElements(source, target, elements);
  if (!converted.ok) return converted;
  return { ok: true, value: target.many ? fromElements(target, converted.values) : converted.values[0] };
}
