import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { oneAtATime } from './gateway.js';

describe('reloads one at a time, the newest winning', () => {
  it('never runs two at once, and skips a waiting one a newer one replaced', async () => {
    const applied: string[] = [];
    let active = 0;
    let most = 0;
    const reload = oneAtATime(async (name: string) => {
      active += 1;
      most = Math.max(most, active);
      await delay(30);
      applied.push(name);
      active -= 1;
    });
    const outcomes = await Promise.allSettled([reload('a'), reload('b'), reload('c'), reload('d')]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
    expect(applied).toEqual(['a', 'd']);
    expect(most).toBe(1);
    await reload('e');
    expect(applied).toEqual(['a', 'd', 'e']);
  });

  it('tells each caller the outcome of the configuration that took its place', async () => {
    const reload = oneAtATime(async (name: string) => {
      await delay(10);
      if (name.startsWith('bad')) throw new Error(`${name} refused`);
    });
    const first = reload('bad-1');
    const replaced = reload('good');
    const newest = reload('bad-2');
    await expect(first).rejects.toThrow('bad-1 refused');
    await expect(replaced).rejects.toThrow('bad-2 refused');
    await expect(newest).rejects.toThrow('bad-2 refused');
    await expect(reload('good')).resolves.toBeUndefined();
  });
});
