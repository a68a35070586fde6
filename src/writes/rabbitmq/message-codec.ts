import type { Blueprint } from '../../schema/blueprint.ts';
import type { ItemDelete, ItemPut, StoreName, Write } from '../../stores/store.ts';
import type { DeadLetter } from '../queue.ts';

/**
 * What travels through RabbitMQ, as JSON. A batch message is the writes of one
 * submit (or one partition of it), each write complete with its blueprint
 * definition so a worker needs no catalog; the definitions are listed once per
 * message and referenced by `project/version/blueprint`, because a bulk PUT
 * repeats the same blueprint for every item.
 */
interface WireBatch {
  definitions: Record<string, Blueprint>;
  writes: WireWrite[];
}

type WireWrite =
  | (Omit<ItemPut, 'definition'> & { definition: string })
  | (Omit<ItemDelete, 'targets'> & { targets: Array<{ version: number; definition: string }> });

function definitionKey(project: string, version: number, blueprint: string): string {
  return `${project}/${version}/${blueprint}`;
}

export function encodeWrites(writes: readonly Write[]): Buffer {
  const definitions: Record<string, Blueprint> = {};
  const wire: WireWrite[] = writes.map((w) => {
    if (w.op === 'put') {
      const key = definitionKey(w.project, w.version, w.blueprint);
      definitions[key] ??= w.definition;
      return { ...w, definition: key };
    }
    return {
      ...w,
      targets: w.targets.map((t) => {
        const key = definitionKey(w.project, t.version, w.blueprint);
        definitions[key] ??= t.definition;
        return { version: t.version, definition: key };
      }),
    };
  });
  return Buffer.from(JSON.stringify({ definitions, writes: wire } satisfies WireBatch));
}

export class UndecodableMessageError extends Error {}

export function decodeWrites(content: Buffer): Write[] {
  let batch: WireBatch;
  try {
    batch = JSON.parse(content.toString('utf8')) as WireBatch;
  } catch (err) {
    throw new UndecodableMessageError(`not JSON: ${(err as Error).message}`);
  }
  if (!batch || typeof batch !== 'object' || !Array.isArray(batch.writes) || typeof batch.definitions !== 'object') throw new UndecodableMessageError('not a dstore write batch');
  const definition = (key: string): Blueprint => {
    const found = batch.definitions[key];
    if (!found) throw new UndecodableMessageError(`blueprint definition ${key} is missing`);
    return found;
  };
  return batch.writes.map((w): Write => {
    if (w.op === 'put') return { ...w, definition: definition(w.definition) };
    if (w.op === 'delete') return { ...w, targets: w.targets.map((t) => ({ version: t.version, definition: definition(t.definition) })) };
    throw new UndecodableMessageError(`unknown write op ${JSON.stringify((w as { op?: unknown }).op)}`);
  });
}

/**
 * A worker's answer to the API process that published some batches: `store`
 * has finished the batches (message ids) in `done`, and dead-lettered the
 * writes (writeKey) in `parked`. `worker` names the LevelDB copy that answers.
 */
export interface Reply {
  store: StoreName;
  worker: string;
  done: string[];
  parked: string[];
}

/** Names one write among all: the item and its stamp. */
export function writeKey(w: Write): string {
  return `${w.project}/${w.blueprint}/${w.id}@${w.stamp}`;
}

export function encodeReply(reply: Reply): Buffer {
  return Buffer.from(JSON.stringify(reply));
}

export function decodeReply(content: Buffer): Reply | null {
  try {
    const r = JSON.parse(content.toString('utf8')) as Reply;
    return r && typeof r.store === 'string' && Array.isArray(r.done) && Array.isArray(r.parked) ? r : null;
  } catch {
    return null;
  }
}

/** A dead letter as kept in the dead-letter queue: the letter plus the queue it came from, for replay. */
export interface StoredLetter extends DeadLetter {
  /** The work queue the write was taken from (a partition, or one worker's LevelDB queue). */
  queue: string;
}

export function encodeLetter(letter: StoredLetter): Buffer {
  return Buffer.from(JSON.stringify(letter));
}

export function decodeLetter(content: Buffer): StoredLetter {
  const letter = JSON.parse(content.toString('utf8')) as StoredLetter;
  if (!letter || typeof letter.id !== 'string' || !letter.write || typeof letter.queue !== 'string') throw new UndecodableMessageError('not a dstore dead letter');
  return letter;
}

/** AMQP `type` of the message that drops a project from every LevelDB copy, in order with its writes. */
export const DROP_PROJECT_TYPE = 'dstore.drop-project';

export interface ProjectDrop {
  project: string;
  versions: number[];
}

export function encodeDrop(drop: ProjectDrop): Buffer {
  return Buffer.from(JSON.stringify(drop));
}

export function decodeDrop(content: Buffer): ProjectDrop {
  let drop: ProjectDrop;
  try {
    drop = JSON.parse(content.toString('utf8')) as ProjectDrop;
  } catch (err) {
    throw new UndecodableMessageError(`not JSON: ${(err as Error).message}`);
  }
  if (typeof drop?.project !== 'string' || !Array.isArray(drop.versions)) throw new UndecodableMessageError('not a project drop');
  return drop;
}

/** AMQP `type` of the message that removes one retired version from every LevelDB copy, in order with its writes. */
export const RETIRE_VERSION_TYPE = 'dstore.retire-version';

export interface VersionRetire {
  project: string;
  version: number;
}

export function encodeRetire(retire: VersionRetire): Buffer {
  return Buffer.from(JSON.stringify(retire));
}

export function decodeRetire(content: Buffer): VersionRetire {
  let retire: VersionRetire;
  try {
    retire = JSON.parse(content.toString('utf8')) as VersionRetire;
  } catch (err) {
    throw new UndecodableMessageError(`not JSON: ${(err as Error).message}`);
  }
  if (typeof retire?.project !== 'string' || !Number.isInteger(retire.version) || retire.version < 1) throw new UndecodableMessageError('not a version retirement');
  return retire;
}

/** A LevelDB copy as announced in the registry queue: the worker and the queue that feeds its copy. */
export interface CopyAnnouncement {
  worker: string;
  queue: string;
}

export function encodeAnnouncement(copy: CopyAnnouncement): Buffer {
  return Buffer.from(JSON.stringify(copy));
}

export function decodeAnnouncement(content: Buffer): CopyAnnouncement {
  let copy: CopyAnnouncement;
  try {
    copy = JSON.parse(content.toString('utf8')) as CopyAnnouncement;
  } catch (err) {
    throw new UndecodableMessageError(`not JSON: ${(err as Error).message}`);
  }
  if (typeof copy?.worker !== 'string' || typeof copy.queue !== 'string') throw new UndecodableMessageError('not a LevelDB copy announcement');
  return copy;
}
