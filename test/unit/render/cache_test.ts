import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RenderCache } from '../../../src/render/cache.js';
import type { RenderedRepo } from '../../../src/render/types.js';

function repo(objects: number, tag: string): RenderedRepo {
  return {
    problems: [],
    waves: [
      {
        number: 1,
        name: '1-app',
        dir: 'deploy/1-app',
        steps: [
          {
            number: 10,
            files: ['deploy/1-app/10-a.yml'],
            objects: Array.from({ length: objects }, (_, i) => ({
              object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `${tag}-${i}` } },
              wave: 1,
              waveName: '1-app',
              step: 10,
              source: { file: 'deploy/1-app/10-a.yml', line: 1 + i * 5, col: 1 },
            })),
          },
        ],
      },
    ],
  };
}

describe('RenderCache', () => {
  it('parses a commit once', async () => {
    const cache = new RenderCache();
    let renders = 0;
    const render = async () => {
      renders++;
      return repo(3, 'a');
    };
    const first = await cache.get('c1', render);
    const second = await cache.get('c1', render);
    assert.equal(renders, 1);
    assert.equal(first, second);
  });

  it('hands out frozen objects, so that no sync can change what the next one sees', async () => {
    const cache = new RenderCache();
    const rendered = await cache.get('c1', async () => repo(1, 'a'));
    const object = rendered.waves[0]!.steps[0]!.objects[0]!.object;
    assert.throws(() => {
      object.metadata.name = 'changed';
    }, TypeError);
  });

  it('holds at most maxObjects objects, dropping the least recently used commit first', async () => {
    const cache = new RenderCache({ maxObjects: 10 });
    await cache.get('c1', async () => repo(4, 'a'));
    await cache.get('c2', async () => repo(4, 'b'));
    await cache.get('c1', async () => repo(4, 'a')); // c1 used again: c2 is now the oldest
    await cache.get('c3', async () => repo(4, 'c'));
    let rendered = false;
    await cache.get('c2', async () => {
      rendered = true;
      return repo(4, 'b');
    });
    assert.equal(rendered, true, 'c2 was evicted');
    await cache.get('big', async () => repo(11, 'd'));
    assert.ok(cache.size <= 2, 'a commit larger than the whole cache is not held');
  });
});
