import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TokenStore } from '../catalog/tokens.ts';
import { Errors, type ApiError } from '../http/errors.ts';
import { Access, everything, refusal, type AccessRule, type Principal } from './scopes.ts';
import { bearerCredential, sameDigest, sha256 } from './secrets.ts';

/**
 * How dstore admits callers (SPEC §10):
 * - `protected`: no ADMIN_TOKEN; loopback clients may do everything, others get 403;
 * - `tokens`: ADMIN_TOKEN set; every request needs a bearer token;
 * - `off`: AUTH=off; everyone may do everything.
 */
export type AccessMode = 'protected' | 'tokens' | 'off';

export interface AccessSettings {
  mode: AccessMode;
  /** Set in `tokens` mode; only its digest is kept. */
  adminToken?: string;
  tokens: TokenStore;
  /** The project of a job, for routes whose project is `job`; undefined for an unknown job. */
  jobProject: (id: string) => string | undefined;
}

/** A registered route and the rule it declares (none: it is refused). */
export interface AccessRoute {
  method: string;
  url: string;
  access: AccessRule | undefined;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route registered after accessControl(), with its rule: what a test walks. */
    accessRoutes: readonly AccessRoute[];
  }
}

/** An unknown route still needs a valid caller, so it cannot be used to tell tokens apart. */
const UNKNOWN_ROUTE: AccessRule = { scope: 'any', project: 'none' };
const OPEN = everything('open');
const LOOPBACK = everything('loopback');
const ADMIN = everything('ADMIN_TOKEN');

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return address === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

function refuse(reply: FastifyReply, err: ApiError): FastifyReply {
  if (err.statusCode === 401) void reply.header('WWW-Authenticate', 'Bearer realm="dstore"');
  return reply.status(err.statusCode).send(err.toBody());
}

/**
 * The one place that decides who may do what: every route declares `config.access`
 * (an AccessRule), and this onRequest hook checks it before the body is even read.
 */
export function accessControl(app: FastifyInstance, settings: AccessSettings): void {
  const adminDigest = settings.adminToken === undefined ? undefined : sha256(settings.adminToken);
  app.decorateRequest('access', null as unknown as Access);
  const routes: AccessRoute[] = [];
  app.decorate('accessRoutes', routes);
  app.addHook('onRoute', (route) => void routes.push({ method: String(route.method), url: route.url, access: route.config?.access }));
  app.addHook('onClose', async () => settings.tokens.close());

  function authenticate(header: string | undefined): Principal | ApiError | null {
    if (header === undefined || header === '') return null;
    const credential = bearerCredential(header);
    if (credential === null) return Errors.unauthorized('the Authorization header is malformed (expected "Bearer <token>")');
    const digest = sha256(credential);
    if (adminDigest && sameDigest(digest, adminDigest)) return ADMIN;
    const token = settings.tokens.find(digest);
    if (!token) return Errors.unauthorized('the token is unknown or revoked');
    settings.tokens.touch(token.id);
    return { who: `token ${token.id}`, tokenId: token.id, projects: token.projects[0] === '*' ? '*' : token.projects, scopes: token.scopes };
  }

  function projectOf(req: FastifyRequest, rule: AccessRule, principal: Principal): string | undefined {
    switch (rule.project) {
      case 'param':
        return (req.params as Record<string, string | undefined>)['project'] ?? '';
      case 'each': {
        const named = (req.query as Record<string, unknown> | undefined)?.['project'];
        return typeof named === 'string' ? named : undefined;
      }
      case 'job': {
        if (principal.projects === '*') return undefined;
        // an unknown job is refused like another project's: job ids reveal nothing to a token outside them
        return settings.jobProject(String((req.params as Record<string, unknown>)['id'] ?? '').toLowerCase()) ?? '';
      }
      case 'none':
        return undefined;
    }
  }

  app.addHook('onRequest', async (req, reply) => {
    const rule = req.is404 ? UNKNOWN_ROUTE : req.routeOptions.config.access;
    // fail closed: a route that forgot its rule is refused, never open
    if (!rule) return refuse(reply, Errors.accessUndeclared(req.method, req.routeOptions.url ?? req.url));

    let principal: Principal;
    if (settings.mode === 'off') principal = OPEN;
    else if (settings.mode === 'protected') {
      if (!isLoopback(req.socket.remoteAddress)) return refuse(reply, Errors.protectedMode(req.socket.remoteAddress ?? 'an unknown address'));
      principal = LOOPBACK;
    } else {
      const found = authenticate(req.headers.authorization);
      if (found === null) {
        if (!rule.anonymous) return refuse(reply, Errors.unauthorized('no token was sent'));
        req.access = new Access(null, rule);
        return;
      }
      if (!('who' in found)) return refuse(reply, found);
      principal = found;
    }

    const missing = refusal(principal, rule, projectOf(req, rule, principal));
    if (missing) {
      // an anonymous route answers a token without its scope by the view anyone gets
      if (rule.anonymous && missing['scope']) {
        req.access = new Access(null, rule);
        return;
      }
      return refuse(reply, Errors.forbidden(principal.tokenId ? 'this token' : principal.who, missing));
    }
    req.access = new Access(principal, rule);
  });
}
