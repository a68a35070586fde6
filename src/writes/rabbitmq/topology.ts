import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { ChannelModel } from 'amqplib';
import { ConfigError } from '../../config.ts';
import { itemKey, type Write } from '../../stores/store.ts';

/** The exchanges and queues of one dstore installation, all named under one prefix. */
export interface Topology {
  prefix: string;
  partitions: number;
  /** Direct exchange: routing key = partition number, one quorum queue bound per partition. */
  writesExchange: string;
  /** Fanout exchange: every worker's own LevelDB queue is bound to it. */
  levelExchange: string;
  /** Durable classic queue holding the writes an engine refused. */
  deadLetterQueue: string;
  /** Durable classic queue where every worker keeping a LevelDB copy announces its queue (the barrier reads it). */
  copiesQueue: string;
  /** Fanout exchange where the workers that consume partitions announce themselves (rabbitmq/presence.ts). */
  presenceExchange: string;
  partitionQueue(partition: number): string;
  levelQueue(workerId: string): string;
}

export function topology(prefix: string, partitions: number): Topology {
  return {
    prefix,
    partitions,
    writesExchange: `${prefix}.writes`,
    levelExchange: `${prefix}.level`,
    deadLetterQueue: `${prefix}.deadletter`,
    copiesQueue: `${prefix}.copies`,
    presenceExchange: `${prefix}.presence`,
    partitionQueue: (p) => `${prefix}.partition.${p}`,
    levelQueue: (id) => `${prefix}.level.${id}`,
  };
}

/**
 * 32-bit FNV-1a with murmur3's final mix (so names differing only in their
 * last character still land far apart): stable across processes and machines.
 */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Every write of one item (project/blueprint/id) lands in the same partition, whatever its version. */
export function partitionOf(write: Write, partitions: number): number {
  return fnv1a(itemKey(write)) % partitions;
}

/**
 * Arguments of the partition and LevelDB queues: quorum (replicated, always
 * persistent) with a single active consumer, so one worker at a time applies
 * a queue, in order. RabbitMQ 4 gives quorum queues a default delivery limit
 * of 20 after which a message is dropped: -1 lifts it there. RabbitMQ 3.x has
 * no limit by default and reads -1 as "drop on the first redelivery", so it
 * must not get the argument.
 */
export function workQueueArguments(serverVersion: string): Record<string, unknown> {
  const major = parseInt(serverVersion, 10);
  return {
    'x-queue-type': 'quorum',
    'x-single-active-consumer': true,
    ...(major >= 4 ? { 'x-delivery-limit': -1 } : {}),
  };
}

const NAME = /^[A-Za-z0-9_.:-]{1,120}$/;

/** QUEUE_PREFIX, QUEUE_PARTITIONS and WORKER_ID from the environment; a bad value stops start-up with one line. */
export function readQueueSettings(env: NodeJS.ProcessEnv): { prefix: string; partitions: number; workerId: string } {
  const prefix = env['QUEUE_PREFIX'] || 'dstore';
  if (!NAME.test(prefix)) throw new ConfigError(`QUEUE_PREFIX=${JSON.stringify(prefix)} may only hold letters, digits and _ . : - (at most 120)`);
  const rawPartitions = env['QUEUE_PARTITIONS'] || '8';
  const partitions = /^\d+$/.test(rawPartitions) ? Number(rawPartitions) : NaN;
  if (!(partitions >= 1 && partitions <= 1024)) throw new ConfigError(`QUEUE_PARTITIONS=${JSON.stringify(rawPartitions)} must be a whole number in 1..1024`);
  const workerId = env['WORKER_ID'] || defaultWorkerId(env['LEVEL_PATH'] || 'storage/level');
  if (!NAME.test(workerId)) throw new ConfigError(`WORKER_ID=${JSON.stringify(workerId)} may only hold letters, digits and _ . : - (at most 120)`);
  return { prefix, partitions, workerId };
}

/** Stable across restarts of the same worker: the host and the LevelDB copy it keeps. */
function defaultWorkerId(levelPath: string): string {
  const host = hostname().replace(/[^A-Za-z0-9_.:-]/g, '_').slice(0, 100) || 'host';
  return `${host}-${fnv1a(resolve(levelPath)).toString(16).padStart(8, '0')}`;
}

/** Runs declarations on a channel of their own, so a refused one cannot take a working channel down with it. */
export async function declare<T>(model: ChannelModel, work: (ch: Awaited<ReturnType<ChannelModel['createChannel']>>) => Promise<T>): Promise<T> {
  const ch = await model.createChannel();
  ch.on('error', () => {}); // the rejected promise carries the error
  try {
    return await work(ch);
  } finally {
    await ch.close().catch(() => {});
  }
}

/**
 * Declares a work queue; a queue that already exists with other arguments
 * (declared by an older dstore, or changed by a policy) is used as it is.
 */
export async function declareWorkQueue(model: ChannelModel, name: string, args: Record<string, unknown>, log: (msg: string) => void): Promise<void> {
  try {
    await declare(model, (ch) => ch.assertQueue(name, { durable: true, arguments: args }));
  } catch (err) {
    if ((err as { code?: number }).code !== 406) throw err;
    log(`queue: ${name} exists with other arguments (${(err as Error).message}); using it as it is`);
    await declare(model, (ch) => ch.checkQueue(name));
  }
}
