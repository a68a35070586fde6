// The snapshot diff knows renames (SPEC §9 renamed_from): a renamed column is neither added nor removed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diffSnapshots } from '../../src/catalog/diff.ts';
import { normalizeBlueprints } from '../../src/schema/blueprint.ts';

test('a column renamed with renamed_from is listed as renamed, retyped under its new name', () => {
  const v1 = normalizeBlueprints({ article: { columns: { title: { type: 'string' }, rank: { type: 'string' }, gone: { type: 'text' } } } });
  const v2 = normalizeBlueprints({
    article: { columns: { headline: { type: 'string', renamed_from: 'title', validation: { required: true } }, position: { type: 'integer', renamed_from: 'rank' }, fresh: { type: 'text', renamed_from: 'nothing' } } },
  });
  assert.deepEqual(diffSnapshots(v1, v2), {
    addedBlueprints: [],
    removedBlueprints: [],
    changed: {
      article: {
        added: ['fresh'],
        removed: ['gone'],
        retyped: [{ column: 'position', from: 'string', to: 'integer' }],
        revalidated: ['headline'],
        renamed: [{ from: 'title', to: 'headline' }, { from: 'rank', to: 'position' }],
      },
    },
  });
  // a rename alone is a change
  const v3 = normalizeBlueprints({ article: { columns: { name: { type: 'string', renamed_from: 'title' }, rank: { type: 'string' }, gone: { type: 'text' } } } });
  assert.deepEqual(diffSnapshots(v1, v3).changed['article'], { added: [], removed: [], retyped: [], revalidated: [], renamed: [{ from: 'title', to: 'name' }] });
});
