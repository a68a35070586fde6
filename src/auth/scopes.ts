/** Who may do what (SPEC §10): scopes, the rule each route declares, and the one decision made from them. */

export const SCOPES = ['read', 'write', 'schema', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/**
 * Where a route finds the project it acts on:
 * - `param`: the `:project` path parameter;
 * - `job`: the project of the job named by the `:id` path parameter;
 * - `each`: the route serves many projects and shows (or acts on) only those the caller has;
 *   a `?project=` in the query names one, checked like a path's;
 * - `none`: the route is not about a project (health, tokens).
 */
export type ProjectSource = 'param' | 'job' | 'each' | 'none';

/** What a route declares in its Fastify `config.access`; a route without one is refused. */
export interface AccessRule {
  /** Any one of these scopes grants the route (admin always does); `any` is any valid token. */
  scope: Scope | readonly Scope[] | 'any';
  project: ProjectSource;
  /** Also answered without a token, by a narrower view the route decides on (GET /_health). */
  anonymous?: boolean;
}

/** The caller a request was authenticated as. */
export interface Principal {
  /** `ADMIN_TOKEN`, `token <id>`, `loopback` (protected mode) or `open` (AUTH=off): for messages, never a secret. */
  who: string;
  /** The token's id, when the caller is a token from POST /_token. */
  tokenId?: string;
  projects: readonly string[] | '*';
  scopes: readonly Scope[];
}

/** The caller for whom nothing is restricted: ADMIN_TOKEN, a loopback client in protected mode, anyone with AUTH=off. */
export function everything(who: string): Principal {
  return { who, projects: '*', scopes: ['admin'] };
}

export function scopesOf(rule: AccessRule): readonly Scope[] | 'any' {
  return typeof rule.scope === 'string' && rule.scope !== 'any' ? [rule.scope] : rule.scope;
}

export function hasScope(principal: Principal, rule: AccessRule): boolean {
  const need = scopesOf(rule);
  if (need === 'any' || principal.scopes.includes('admin')) return true;
  return need.some((s) => principal.scopes.includes(s));
}

export function coversProject(principal: Principal, project: string): boolean {
  return principal.projects === '*' || principal.projects.includes(project);
}

/** Whether every project of `wanted` lies within the principal's (`*` only within `*`). */
export function coversAll(principal: Principal, wanted: readonly string[] | '*'): boolean {
  if (principal.projects === '*') return true;
  if (wanted === '*') return false;
  return wanted.every((p) => coversProject(principal, p));
}

/** Why the rule refuses the principal, as field → problem for a 403; null when it grants. */
export function refusal(principal: Principal, rule: AccessRule, project: string | undefined): Record<string, string> | null {
  if (!hasScope(principal, rule)) {
    const need = scopesOf(rule) as readonly Scope[];
    const wanted = need.includes('admin') ? 'admin' : [...need, 'admin'].join(' or ');
    return { scope: `needs ${wanted}; the token has ${principal.scopes.join(', ')}` };
  }
  if (project !== undefined && !coversProject(principal, project)) return { project: `the token is not for project "${project}"` };
  return null;
}

/** What a route learns of its caller: whether its rule held, and which projects it may show. */
export class Access {
  constructor(
    /** Null for an anonymous caller of a route that takes one. */
    readonly principal: Principal | null,
    private readonly rule: AccessRule,
  ) {}

  /** The route's scope holds (false only on an `anonymous` route answered by its narrower view). */
  get granted(): boolean {
    return this.principal !== null && hasScope(this.principal, this.rule);
  }

  /** The route's scope holds in this project: what an `each` route filters its answer by. */
  allows(project: string): boolean {
    return this.granted && coversProject(this.principal!, project);
  }
}

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: AccessRule;
  }
  interface FastifyRequest {
    access: Access;
  }
}
