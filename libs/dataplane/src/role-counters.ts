// The counter layout of a translating role: the shared traffic counters, one drop counter per
// translator drop reason (libs/xlat, per direction, as Jool's JSTAT), then the role's own
// classification drops (router solicitations, packets not addressed to the translator, ...).
import { dropReasonNames } from '../../xlat/src/index.js';
import { baseCounterNames } from './batch-translator.js';
import { CounterLayout } from './counters.js';

export const translatorDropBase = baseCounterNames.length;

export function roleCounterLayout(
  roleDropNames: readonly string[],
  gaugeNames: readonly string[] = [],
): CounterLayout {
  return new CounterLayout([
    ...baseCounterNames,
    ...dropReasonNames.map((name) => `drop.${name}`),
    ...roleDropNames.map((name) => `drop.${name}`),
    ...gaugeNames,
  ]);
}
