// WKB (what PostGIS's ST_AsBinary gives) back to GeoJSON, coordinates bit for bit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { wkbToGeoJson } from '../../src/stores/postgresql/wkb.ts';

/** Little- or big-endian WKB of a GeoJSON geometry, written by hand for the test. */
function wkb(g: { type: string; coordinates: any }, little = true): Buffer {
  const parts: Buffer[] = [];
  const u32 = (n: number) => { const b = Buffer.alloc(4); little ? b.writeUInt32LE(n) : b.writeUInt32BE(n); parts.push(b); };
  const f64 = (n: number) => { const b = Buffer.alloc(8); little ? b.writeDoubleLE(n) : b.writeDoubleBE(n); parts.push(b); };
  const codes: Record<string, number> = { Point: 1, LineString: 2, Polygon: 3, MultiPoint: 4, MultiLineString: 5, MultiPolygon: 6 };
  const single: Record<string, string> = { MultiPoint: 'Point', MultiLineString: 'LineString', MultiPolygon: 'Polygon' };
  const write = (type: string, c: any) => {
    parts.push(Buffer.from([little ? 1 : 0]));
    u32(codes[type]!);
    const pos = (p: number[]) => (f64(p[0]!), f64(p[1]!));
    if (type === 'Point') pos(c);
    else if (type === 'LineString') (u32(c.length), c.forEach(pos));
    else if (type === 'Polygon') (u32(c.length), c.forEach((r: number[][]) => (u32(r.length), r.forEach(pos))));
    else (u32(c.length), c.forEach((part: any) => write(single[type]!, part)));
  };
  write(g.type, g.coordinates);
  return Buffer.concat(parts);
}

const cases = [
  { type: 'Point', coordinates: [4.1370000000000005, 52.0000000000001] },
  { type: 'LineString', coordinates: [[4.9, 52.3], [5.1, 52.1]] },
  { type: 'Polygon', coordinates: [[[4.8, 52.3], [5, 52.3], [5, 52.4], [4.8, 52.3]], [[4.85, 52.32], [4.9, 52.32], [4.9, 52.35], [4.85, 52.32]]] },
  { type: 'MultiPoint', coordinates: [[0.1 + 0.2, -89.99999999999999], [179.99999999999997, 0]] },
  { type: 'MultiLineString', coordinates: [[[1, 1], [2, 2]], [[3, 3], [4, 4], [5, 5]]] },
  { type: 'MultiPolygon', coordinates: [[[[1, 1], [2, 1], [2, 2], [1, 1]]], [[[3, 3], [4, 3], [4, 4], [3, 3]]]] },
  { type: 'MultiPolygon', coordinates: [] },
];

for (const g of cases) {
  test(`WKB ${g.type}${g.coordinates.length === 0 ? ' (empty)' : ''} reads back exactly, either byte order`, () => {
    assert.deepEqual(wkbToGeoJson(wkb(g)), g);
    assert.deepEqual(wkbToGeoJson(wkb(g, false)), g);
  });
}

test('a WKB type dstore never stores is an error, not a wrong geometry', () => {
  const b = Buffer.from([1, 7, 0, 0, 0, 0, 0, 0, 0]);
  assert.throws(() => wkbToGeoJson(b), /WKB geometry type 7/);
});
