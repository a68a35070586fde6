import type { GeometryKind } from './column-types.ts';

type Position = [number, number];

/** Why a value is not a valid GeoJSON geometry of the given kind (RFC 7946, WGS 84), or null. */
export function geometryProblem(value: unknown, kind: GeometryKind): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return `must be a GeoJSON ${kind} object`;
  const g = value as { type?: unknown; coordinates?: unknown };
  if (g.type !== kind) return `must be a GeoJSON ${kind} (type is ${JSON.stringify(g.type)})`;
  const extra = Object.keys(g).filter((k) => k !== 'type' && k !== 'coordinates' && k !== 'bbox');
  if (extra.length) return `has unexpected member ${extra[0]}`;
  const c = g.coordinates;
  switch (kind) {
    case 'Point': return positionProblem(c, 'coordinates');
    case 'MultiPoint': return listProblem(c, 'coordinates', 0, (p, at) => positionProblem(p, at));
    case 'LineString': return lineProblem(c, 'coordinates');
    case 'MultiLineString': return listProblem(c, 'coordinates', 0, lineProblem);
    case 'Polygon': return polygonProblem(c, 'coordinates');
    case 'MultiPolygon': return listProblem(c, 'coordinates', 0, polygonProblem);
  }
}

function listProblem(value: unknown, at: string, min: number, each: (v: unknown, at: string) => string | null): string | null {
  if (!Array.isArray(value)) return `${at} must be an array`;
  if (value.length < min) return `${at} must have at least ${min} elements`;
  for (let i = 0; i < value.length; i++) {
    const problem = each(value[i], `${at}[${i}]`);
    if (problem) return problem;
  }
  return null;
}

function positionProblem(value: unknown, at: string): string | null {
  // two dimensions only: the PostgreSQL columns are 2D, and every engine must hold the same value
  if (!Array.isArray(value) || value.length !== 2 || !value.every((n) => typeof n === 'number' && Number.isFinite(n))) {
    return `${at} must be a position [longitude, latitude]`;
  }
  const [lon, lat] = value as Position;
  if (lon < -180 || lon > 180) return `${at} longitude ${lon} is outside -180..180`;
  if (lat < -90 || lat > 90) return `${at} latitude ${lat} is outside -90..90`;
  return null;
}

function lineProblem(value: unknown, at: string): string | null {
  return listProblem(value, at, 2, positionProblem);
}

function polygonProblem(value: unknown, at: string): string | null {
  const problem = listProblem(value, at, 1, (ring, ringAt) => {
    const problem = listProblem(ring, ringAt, 4, positionProblem);
    if (problem) return problem;
    const r = ring as Position[];
    const first = r[0]!;
    const last = r[r.length - 1]!;
    if (first[0] !== last[0] || first[1] !== last[1]) return `${ringAt} is not closed (first and last positions differ)`;
    for (let i = 1; i < r.length; i++) if (r[i]![0] === r[i - 1]![0] && r[i]![1] === r[i - 1]![1]) return `${ringAt} repeats position ${i - 1} at ${i}`;
    const crossing = selfIntersection(r);
    if (crossing !== null) return `${ringAt} crosses itself (edges ${crossing[0]} and ${crossing[1]})`;
    if (ringArea(r) === 0) return `${ringAt} encloses no area (its positions are on one line)`;
    return null;
  });
  if (problem) return problem;
  const [shell, ...holes] = value as Position[][];
  for (let h = 0; h < holes.length; h++) {
    if (!holes[h]!.slice(0, -1).every((p) => inRing(p, shell!))) return `${at}[${h + 1}] is a hole that is not inside the outer ring ${at}[0]`;
  }
  return null;
}

function ringArea(ring: Position[]): number {
  let twice = 0;
  for (let i = 0; i < ring.length - 1; i++) twice += ring[i]![0] * ring[i + 1]![1] - ring[i + 1]![0] * ring[i]![1];
  return Math.abs(twice) / 2;
}

/** Ray casting: whether a position lies inside (or on the edge of) a closed ring. */
function inRing(p: Position, ring: Position[]): boolean {
  let inside = false;
  for (let i = 0, j = ring.length - 2; i < ring.length - 1; j = i++) {
    const a = ring[i]!;
    const b = ring[j]!;
    if (orientation(a, b, p) === 0 && onSegment(a, b, p)) return true;
    if (a[1] > p[1] !== b[1] > p[1] && p[0] < ((b[0] - a[0]) * (p[1] - a[1])) / (b[1] - a[1]) + a[0]) inside = !inside;
  }
  return inside;
}

/** Rings longer than this skip the quadratic self-intersection check (the engines still check them). */
const MAX_CHECKED_RING = 4000;

/** The first two non-adjacent edges of a closed ring that touch or cross, or null. */
function selfIntersection(ring: Position[]): [number, number] | null {
  const edges = ring.length - 1;
  if (edges > MAX_CHECKED_RING) return null;
  for (let i = 0; i < edges; i++) {
    for (let j = i + 2; j < edges; j++) {
      if (i === 0 && j === edges - 1) continue; // they share the closing position
      if (segmentsMeet(ring[i]!, ring[i + 1]!, ring[j]!, ring[j + 1]!)) return [i, j];
    }
  }
  return null;
}

function orientation(a: Position, b: Position, c: Position): number {
  const v = (b[1] - a[1]) * (c[0] - b[0]) - (b[0] - a[0]) * (c[1] - b[1]);
  return v === 0 ? 0 : v > 0 ? 1 : -1;
}

function onSegment(a: Position, b: Position, p: Position): boolean {
  return Math.min(a[0], b[0]) <= p[0] && p[0] <= Math.max(a[0], b[0]) && Math.min(a[1], b[1]) <= p[1] && p[1] <= Math.max(a[1], b[1]);
}

function segmentsMeet(p1: Position, p2: Position, q1: Position, q2: Position): boolean {
  const o1 = orientation(p1, p2, q1);
  const o2 = orientation(p1, p2, q2);
  const o3 = orientation(q1, q2, p1);
  const o4 = orientation(q1, q2, p2);
  if (o1 !== o2 && o3 !== o4) return true;
  return (o1 === 0 && onSegment(p1, p2, q1)) || (o2 === 0 && onSegment(p1, p2, q2)) || (o3 === 0 && onSegment(q1, q2, p1)) || (o4 === 0 && onSegment(q1, q2, p2));
}
