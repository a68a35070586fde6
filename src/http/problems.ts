import { CatalogError } from '../catalog/catalog.ts';
import { MigrationError } from '../catalog/migration.ts';
import { BlueprintError } from '../schema/blueprint.ts';
import { blueprintNameProblem, projectNameProblem } from '../schema/identifiers.ts';
import { QueueUnavailableError, WriteNotDurableError } from '../writes/queue.ts';
import { ApiError, Errors } from './errors.ts';

/** Turns anything thrown while serving a request into the error catalog's answer. */
export function toApiError(err: unknown, bodyLimit: number): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof BlueprintError) return Errors.blueprintInvalid(err.blueprint, err.problems);
  if (err instanceof CatalogError) {
    switch (err.kind) {
      case 'busy':
      case 'in-use': return Errors.conflict(err.message);
      case 'empty': return new ApiError('DSTORE_NO_BLUEPRINTS', 400, err.message);
      default: return new ApiError(`DSTORE_${err.kind.toUpperCase().replace(/-/g, '_')}`, 404, err.message);
    }
  }
  if (err instanceof MigrationError) return Errors.migrationFailed(err.store, err.reason);
  if (err instanceof WriteNotDurableError) return Errors.writeNotDurable(err.pending, err.message);
  if (err instanceof QueueUnavailableError) return Errors.queueUnavailable(err.message);
  const fastify = err as { code?: string; statusCode?: number; message?: string };
  if (fastify.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return Errors.bodyTooLarge(bodyLimit);
  if (fastify.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || fastify.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return Errors.bodyNotJson(fastify.message ?? '');
  if (typeof fastify.statusCode === 'number' && fastify.statusCode >= 400 && fastify.statusCode < 500) {
    return new ApiError(fastify.code ?? 'DSTORE_BAD_REQUEST', fastify.statusCode, fastify.message ?? 'bad request');
  }
  return Errors.internal();
}

export function checkProjectName(name: string): void {
  const problem = projectNameProblem(name);
  if (problem) throw Errors.badName('project', name, problem);
}

export function checkBlueprintName(name: string): void {
  const problem = blueprintNameProblem(name);
  if (problem) throw Errors.badName('blueprint', name, problem);
}

/** A version in a path: a positive integer. */
export function parseVersion(project: string, raw: string): number {
  if (!/^[1-9]\d{0,8}$/.test(raw)) throw Errors.versionNotFound(project, raw);
  return Number(raw);
}
