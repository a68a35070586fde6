import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A token: `dst_` and 43 base64url characters, 256 random bits. */
export const TOKEN_PREFIX = 'dst_';
const TOKEN_BYTES = 32;

export function newSecret(): string {
  return TOKEN_PREFIX + randomBytes(TOKEN_BYTES).toString('base64url');
}

export function sha256(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/** Compares two digests in constant time (both are SHA-256, so lengths never differ). */
export function sameDigest(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A credential in `Authorization: Bearer <credential>`: visible ASCII, bounded; anything else is malformed. */
export function bearerCredential(header: string): string | null {
  const match = /^Bearer +([\x21-\x7e]{1,512}) *$/i.exec(header);
  return match ? match[1]! : null;
}
