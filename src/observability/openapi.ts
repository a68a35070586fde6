import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { existsSync, readFileSync } from 'node:fs';
import { RouteSchemas } from './route-schemas.ts';

/** dstore's version from its package.json (beside src/ when run from source, one level further up from dist/). */
function packageVersion(): string {
  for (const up of ['../../package.json', '../../../package.json']) {
    const url = new URL(up, import.meta.url);
    if (existsSync(url)) {
      const pkg = JSON.parse(readFileSync(url, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'dstore' && pkg.version) return pkg.version;
    }
  }
  return '0.0.0';
}

/** The docs page and its assets are open to anyone who can reach the port: they hold no data (SPEC §13). */
const DOCS_ACCESS = { scope: 'any', project: 'none', anonymous: true } as const;
export const DOCS_PREFIX = '/_docs';

/**
 * `GET /_openapi.json` and `GET /_docs` (SPEC §13), generated from the JSON
 * Schemas every route declares. Registered before the routes, so it sees each
 * one. The schemas document only: Fastify compiles no validator from them
 * (dstore's own checks answer bad input, with their messages) and no
 * serializer (an answer is sent as it is, no field dropped).
 */
export function openApi(app: FastifyInstance): void {
  app.setValidatorCompiler(() => () => true);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

  void app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'dstore',
        version: packageVersion(),
        description:
          'Owns the schema of an application\'s data and writes every item into PostgreSQL/PostGIS, Elasticsearch and LevelDB. Bodies are JSON whatever their Content-Type says. Every error answers { "message", "code", "errors"? } with a code from the error catalog.',
      },
      tags: ['blueprints', 'projects', 'versions', 'items', 'jobs', 'operations', 'tokens'].map((name) => ({ name })),
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN or a token from POST /_token; not needed from loopback in protected mode, nor with AUTH=off' } } },
      security: [{ bearer: [] }],
    },
  });

  // swagger-ui's own routes are declared here with their access rule, before any onRoute hook sees them
  void app.register(async (docs) => {
    const route = docs.route;
    // called on swagger-ui's own instances (which carry the /_docs prefix), so `this` is kept
    docs.route = function (this: FastifyInstance, opts: RouteOptions) {
      return route.call(this, { ...opts, config: { ...(opts.config as object), access: DOCS_ACCESS } });
    } as typeof docs.route;
    await docs.register(swaggerUi, { routePrefix: DOCS_PREFIX, uiConfig: { docExpansion: 'list', deepLinking: true } });
  });

  void app.register(async (scope) => {
    scope.get('/_openapi.json', { schema: RouteSchemas.openapi, config: { access: DOCS_ACCESS } }, async () => app.swagger());
  });
}
