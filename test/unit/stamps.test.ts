// Write stamps (src/writes/stamps.ts): strictly increasing, following the clock, exact in JSON.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextStamp } from '../../src/writes/stamps.ts';

test('stamps strictly increase, also many within one millisecond', () => {
  let previous = nextStamp();
  for (let i = 0; i < 100_000; i++) {
    const stamp = nextStamp();
    assert.ok(stamp > previous, `${stamp} is not above ${previous}`);
    previous = stamp;
  }
});

test('stamps follow the wall clock (milliseconds × 1000), so later processes stamp later', () => {
  const now = Date.now() + 60_000; // a clock a minute ahead of every stamp so far
  const stamp = nextStamp(now);
  assert.equal(stamp, now * 1000);
  assert.ok(nextStamp(now) > stamp);
});

test('stamps never go back when the clock does', () => {
  const ahead = nextStamp(Date.now() + 120_000);
  const behind = nextStamp(Date.now() - 3_600_000);
  assert.ok(behind > ahead);
  assert.ok(nextStamp(0) > behind);
});

test('stamps stay safe integers below 2^53, also far in the future', () => {
  const year2200 = Date.UTC(2200, 0, 1);
  for (const stamp of [nextStamp(), nextStamp(year2200), nextStamp(year2200)]) {
    assert.ok(Number.isSafeInteger(stamp), String(stamp));
    assert.ok(stamp < 2 ** 53, String(stamp));
    // exact through JSON, as writes travel through the journal and RabbitMQ
    assert.equal(JSON.parse(JSON.stringify({ stamp })).stamp, stamp);
  }
});
