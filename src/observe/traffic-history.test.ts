import { describe, expect, it } from 'vitest';
import { TrafficHistory } from './traffic-history.js';

describe('TrafficHistory', () => {
  it('counts requests and refusals per second, zero where nothing happened', () => {
    const history = new TrafficHistory(10);
    history.count(100_000, false);
    history.count(100_500, true);
    history.count(102_100, false);
    expect(history.series(103_000, 4)).toEqual({
      start: 99,
      step: 1,
      requests: [0, 2, 0, 1],
      refused: [0, 1, 0, 0],
    });
  });

  it('forgets what left the window, and a late request for a second still in it counts there', () => {
    const history = new TrafficHistory(5);
    history.count(1_000, true);
    history.count(9_000, false);
    history.count(8_200, true); // started earlier, finished after the one above
    history.count(2_000, true); // before the window: not counted
    expect(history.series(10_000, 5)).toEqual({
      start: 5,
      step: 1,
      requests: [0, 0, 0, 1, 1],
      refused: [0, 0, 0, 1, 0],
    });
    expect(history.series(30_000, 5).requests).toEqual([0, 0, 0, 0, 0]);
  });
});
