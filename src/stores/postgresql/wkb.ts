/**
 * Well-known binary (ST_AsBinary) to GeoJSON: PostGIS keeps coordinates as
 * doubles, and WKB hands them back bit for bit, where ST_AsGeoJSON prints at
 * most 15 decimals (a coordinate such as 4.1370000000000005 would come back
 * changed). 2D only, as dstore stores (SPEC §4).
 */
type Position = [number, number];

const TYPES = ['', 'Point', 'LineString', 'Polygon', 'MultiPoint', 'MultiLineString', 'MultiPolygon'] as const;

export interface GeoJsonGeometry {
  type: string;
  coordinates: unknown;
}

export function wkbToGeoJson(wkb: Buffer): GeoJsonGeometry {
  let at = 0;
  let little = true;
  const u32 = () => {
    const v = little ? wkb.readUInt32LE(at) : wkb.readUInt32BE(at);
    at += 4;
    return v;
  };
  const f64 = () => {
    const v = little ? wkb.readDoubleLE(at) : wkb.readDoubleBE(at);
    at += 8;
    return v;
  };
  const position = (): Position => [f64(), f64()];
  const positions = (): Position[] => Array.from({ length: u32() }, position);
  const rings = (): Position[][] => Array.from({ length: u32() }, positions);
  const geometry = (): GeoJsonGeometry => {
    little = wkb.readUInt8(at) === 1;
    at += 1;
    const code = u32();
    const type = TYPES[code];
    if (!type || code > 6) throw new Error(`WKB geometry type ${code} is not one dstore stores`);
    switch (type) {
      case 'Point': return { type, coordinates: position() };
      case 'LineString': return { type, coordinates: positions() };
      case 'Polygon': return { type, coordinates: rings() };
      default: {
        const parts = Array.from({ length: u32() }, geometry);
        return { type, coordinates: parts.map((p) => p.coordinates) };
      }
    }
  };
  return geometry();
}
