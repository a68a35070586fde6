import type { FastifyInstance } from 'fastify';
import { coversAll, SCOPES, type Scope } from '../../auth/scopes.ts';
import { newSecret, sha256 } from '../../auth/secrets.ts';
import type { TokenView } from '../../catalog/tokens.ts';
import { isUuid, projectNameProblem } from '../../schema/identifiers.ts';
import { Errors } from '../errors.ts';
import { RouteSchemas } from '../../observability/route-schemas.ts';
import { stringProblem } from '../../schema/limits.ts';

const NAME_MAX = 200;

interface TokenRequest {
  name: string;
  projects: string[] | ['*'];
  scopes: Scope[];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Checks a POST /_token body; throws a 400 listing every field that is wrong. */
function tokenRequest(body: unknown): TokenRequest {
  if (!isObject(body)) throw Errors.bodyShape('{ "name": "…", "projects": ["myblog"] or ["*"], "scopes": ["read" | "write" | "schema" | "admin", …] }');
  const problems: Record<string, string> = {};
  const { name, projects, scopes } = body;
  if (typeof name !== 'string' || name.trim() === '' || name.length > NAME_MAX) problems['name'] = `must be a non-empty string of at most ${NAME_MAX} characters`;
  else if (stringProblem(name)) problems['name'] = stringProblem(name)!;
  if (!Array.isArray(projects) || projects.length === 0) problems['projects'] = 'must be a non-empty array of project names, or ["*"]';
  else if (projects.includes('*')) {
    if (projects.length !== 1) problems['projects'] = '"*" means every project and stands alone: ["*"]';
  } else {
    projects.forEach((p, i) => {
      const problem = typeof p === 'string' ? projectNameProblem(p) : 'must be a string';
      if (problem) problems[`projects[${i}]`] = problem;
    });
  }
  if (!Array.isArray(scopes) || scopes.length === 0) problems['scopes'] = `must be a non-empty array of ${SCOPES.join(', ')}`;
  else scopes.forEach((s, i) => {
    if (!SCOPES.includes(s as Scope)) problems[`scopes[${i}]`] = `must be one of ${SCOPES.join(', ')}`;
  });
  for (const key of Object.keys(body)) if (!['name', 'projects', 'scopes'].includes(key)) problems[key] = 'is not a field of a token request';
  if (Object.keys(problems).length) throw Errors.tokenRequestInvalid(problems);
  return { name: name as string, projects: [...new Set(projects as string[])] as string[], scopes: [...new Set(scopes as Scope[])] };
}

/** Tokens (SPEC §10): made, listed and revoked by an admin, within its own projects. */
export async function tokenRoutes(app: FastifyInstance): Promise<void> {
  const { access, log } = app.deps;
  const tokens = access.tokens;
  const admin = { access: { scope: 'admin', project: 'none' } } as const;

  const visible = (principal: Parameters<typeof coversAll>[0], token: TokenView) => coversAll(principal, token.projects[0] === '*' ? '*' : token.projects);

  app.post('/_token', { schema: RouteSchemas.createToken, config: admin }, async (req, reply) => {
    const wanted = tokenRequest(req.body);
    const principal = req.access.principal!;
    if (!coversAll(principal, wanted.projects[0] === '*' ? '*' : wanted.projects)) {
      const outside = wanted.projects[0] === '*' ? '*' : wanted.projects.find((p) => !coversAll(principal, [p]))!;
      throw Errors.forbidden('this token', { projects: outside === '*' ? 'only ADMIN_TOKEN or an admin token of ["*"] makes tokens for every project' : `the token is not for project "${outside}"` });
    }
    const secret = newSecret();
    const view = await tokens.create(wanted, sha256(secret));
    log?.(`token ${view.id} (${JSON.stringify(view.name)}) made by ${principal.who}: projects ${view.projects.join(', ')}; scopes ${view.scopes.join(', ')}`);
    return reply.status(201).send({ ...view, token: secret });
  });

  app.get('/_token', { schema: RouteSchemas.listTokens, config: admin }, async (req) => {
    const list = tokens.list().filter((t) => visible(req.access.principal!, t));
    return { count: list.length, tokens: list };
  });

  app.delete<{ Params: { id: string } }>('/_token/:id', { schema: RouteSchemas.revokeToken, config: admin }, async (req, reply) => {
    const id = req.params.id.toLowerCase();
    const token = isUuid(id) ? tokens.get(id) : undefined;
    // a token outside the caller's projects is as unknown to it as one that never was
    if (!token || !visible(req.access.principal!, token)) throw Errors.tokenNotFound(req.params.id);
    await tokens.revoke(id);
    log?.(`token ${id} (${JSON.stringify(token.name)}) revoked by ${req.access.principal!.who}`);
    return reply.status(204).send();
  });
}
