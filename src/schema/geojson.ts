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
  return listProblem(value, at, 1, (ring, ringAt) => {
    const problem = listProblem(ring, ringAt, 4, positionProblem);
    if (problem) return problem;
    const r = ring as Position[];
    const first = r[0]!;
    const last = r[r.length - 1]!;
    if (first[0] !== last[0] || first[1] !== last[1]) return `${ringAt} is not closed (first and last positions differ)`;
    return null;
  });
}
