import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import { TokenStore, type TokenStorage } from '../catalog/tokens.ts';
import { ConfigError, type Config } from '../config.ts';
import type { AccessSettings } from './access-control.ts';

/** The access settings of a process from its config; start-up stops with one line when the tokens cannot be read. */
export async function accessFromConfig(config: Config, jobProject: AccessSettings['jobProject'], storage?: TokenStorage): Promise<{ settings: AccessSettings; line: string }> {
  const tokens = new TokenStore(storage ?? join(config.projectFilePath, '_tokens.json'));
  try {
    await tokens.load();
  } catch (err) {
    throw new ConfigError(`cannot read the tokens at ${storage && config.catalog === 'postgresql' ? storage.where : `PROJECT_FILE_PATH=${config.projectFilePath}`}: ${(err as Error).message}`);
  }
  if (config.auth === 'off') {
    return { settings: { mode: 'off', tokens, jobProject }, line: 'WARNING: AUTH=off: every client that reaches this port may do everything, without a token (only for a trusted network)' };
  }
  if (config.adminToken) {
    return { settings: { mode: 'tokens', adminToken: config.adminToken, tokens, jobProject }, line: 'access: every request needs Authorization: Bearer <token> (ADMIN_TOKEN is set)' };
  }
  return { settings: { mode: 'protected', tokens, jobProject }, line: 'access: protected mode: only loopback clients are answered; set ADMIN_TOKEN to admit others with tokens' };
}

/** TLS_CERT and TLS_KEY read and checked against each other; any fault stops start-up with one line. */
export function readTls(tls: NonNullable<Config['tls']>): { cert: Buffer; key: Buffer } {
  const read = (name: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new ConfigError(`${name}=${path} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  const cert = read('TLS_CERT', tls.certPath);
  const key = read('TLS_KEY', tls.keyPath);
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    const reason = (err as Error).message;
    if (/key values mismatch/i.test(reason)) throw new ConfigError(`TLS_KEY=${tls.keyPath} is not the key of the certificate in TLS_CERT=${tls.certPath}`);
    throw new ConfigError(`TLS_CERT=${tls.certPath} and TLS_KEY=${tls.keyPath} are not a usable PEM certificate and key: ${reason}`);
  }
  return { cert, key };
}
