import type { Item } from '../../schema/item.ts';

/** LevelDB keeps the item as the client sent it, validated: geometry stays GeoJSON, dates stay strings. */
export function serializeItem(item: Item): string {
  return JSON.stringify(item);
}
