/**
 * expiry.js — the "Keep it for" choice.
 *
 * Presets are capped by the server's max_expires_in; the server's
 * default_expires_in is always offered and selected first. 0 means
 * "never expires" and is only offered when the server's default is 0.
 */

import { formatDuration } from './format.js';
import { t } from './i18n.js';

const PRESETS = [3600, 86400, 7 * 86400, 30 * 86400];

export function expiryChoices({ default_expires_in: byDefault, max_expires_in: max }) {
  const capped = PRESETS.filter((seconds) => !max || seconds <= max);
  if (max && !capped.includes(max)) capped.push(max); // the server's longest, under or over the presets
  const all = new Set(capped);
  all.add(byDefault ?? PRESETS[2]);
  return Array.from(all)
    .sort((a, b) => (a || Infinity) - (b || Infinity))
    .map((seconds) => ({
      seconds,
      label: seconds ? formatDuration(seconds) : t('upload.expiry.never'),
      selected: seconds === (byDefault ?? PRESETS[2]),
    }));
}

/** Fill a <select>; its value is the number of seconds. */
export function fillExpirySelect(select, config) {
  select.replaceChildren(
    ...expiryChoices(config).map(
      ({ seconds, label, selected }) => new Option(label, String(seconds), selected, selected),
    ),
  );
}
