import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diffSnapshots } from '../../src/catalog/diff.ts';
import { normalizeBlueprints } from '../../src/schema/blueprint.ts';

test('the diff between two snapshots names added, removed, retyped and revalidated columns and blueprints', () => {
  const v1 = normalizeBlueprints({
    article: { columns: { title: { type: 'string' }, views: { type: 'integer' }, body: { type: 'text' }, tag: { type: 'string' } } },
    author: { columns: { name: { type: 'string' } } },
  });
  const v2 = normalizeBlueprints({
    article: { postgresql: { table: 'articles' }, columns: { title: { type: 'string', validation: { required: true } }, views: { type: 'float' }, tag: { type: 'string' }, summary: { type: 'text' } } },
    comment: { columns: { text: { type: 'text' } } },
  });
  assert.deepEqual(diffSnapshots(v1, v2), {
    addedBlueprints: ['comment'],
    removedBlueprints: ['author'],
    changed: {
      article: {
        added: ['summary'],
        removed: ['body'],
        retyped: [{ column: 'views', from: 'integer', to: 'float' }],
        revalidated: ['title'],
        tableRenamed: { from: 'article', to: 'articles' },
      },
    },
  });
  assert.deepEqual(diffSnapshots(v1, v1), { addedBlueprints: [], removedBlueprints: [], changed: {} });
});
