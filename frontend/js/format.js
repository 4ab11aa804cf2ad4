/**
 * format.js — turns numbers and dates into short human text.
 *
 * Pure functions, no DOM. Sizes use binary units (KiB, MiB, GiB) so the
 * server's limits (powers of two) read as round numbers.
 */

const UNITS = ['KiB', 'MiB', 'GiB', 'TiB'];
const DURATIONS = [
  ['day', 86400],
  ['hour', 3600],
  ['minute', 60],
  ['second', 1],
];
const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });

/** 1536 -> "1.5 KiB"; 0 -> "0 bytes". */
export function formatBytes(bytes) {
  if (!Number.isFinite(bytes) || bytes < 1024) {
    const n = Math.max(0, Math.round(bytes || 0));
    return `${integer.format(n)} ${n === 1 ? 'byte' : 'bytes'}`;
  }
  let value = bytes;
  let unit = -1;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = value < 10 ? 2 : value < 100 ? 1 : 0;
  const shown = new Intl.NumberFormat(undefined, { maximumFractionDigits: digits }).format(value);
  return `${shown} ${UNITS[unit]}`;
}

/** 1234 -> "1,234 bytes" (exact, for checking a download). */
export function formatExactBytes(bytes) {
  return `${integer.format(bytes)} ${bytes === 1 ? 'byte' : 'bytes'}`;
}

/** "1.21 KiB (1,234 bytes)"; small sizes are exact already: "100 bytes". */
export function formatSize(bytes) {
  const short = formatBytes(bytes);
  return bytes < 1024 ? short : `${short} (${formatExactBytes(bytes)})`;
}

/** Bytes per second -> "12.3 MiB/s". */
export function formatSpeed(bytesPerSecond) {
  return `${formatBytes(bytesPerSecond)}/s`;
}

/** 604800 -> "7 days"; 5400 -> "1 hour 30 minutes". 0 -> "never". */
export function formatDuration(seconds) {
  if (!seconds) return 'never';
  const parts = [];
  let rest = Math.round(seconds);
  for (const [name, size] of DURATIONS) {
    const count = Math.floor(rest / size);
    if (count > 0) parts.push(`${count} ${name}${count === 1 ? '' : 's'}`);
    rest -= count * size;
    if (parts.length === 2) break;
  }
  return parts.join(' ');
}

/** Seconds left -> "about 3 minutes left" (rough on purpose). */
export function formatTimeLeft(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return '';
  if (seconds < 5) return 'a few seconds left';
  if (seconds < 90) return `about ${Math.round(seconds / 5) * 5} seconds left`;
  if (seconds < 5400) return `about ${Math.round(seconds / 60)} minutes left`;
  return `about ${formatDuration(Math.round(seconds / 600) * 600)} left`;
}

/** ISO date or null -> "in 7 days (3 Dec 2026, 14:00)" / "never". */
export function formatExpiry(iso, now = Date.now()) {
  if (!iso) return 'Never';
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return 'Unknown';
  const absolute = new Intl.DateTimeFormat(undefined, {
    dateStyle: 'medium',
    timeStyle: 'short',
  }).format(when);
  const seconds = (when.getTime() - now) / 1000;
  if (seconds <= 0) return `Expired (${absolute})`;
  return `${relative(seconds)} (${absolute})`;
}

function relative(seconds) {
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  for (const [name, size] of DURATIONS) {
    // A little slack so "59 min 58 s" after an upload still reads "in 1 hour".
    if (seconds >= size * 0.98 || name === 'second') {
      return capitalise(rtf.format(Math.round(seconds / size), name));
    }
  }
  return '';
}

function capitalise(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** null -> "Unlimited", 3 -> "3". */
export function formatDownloadsLeft(count) {
  return count === null || count === undefined ? 'Unlimited' : integer.format(count);
}
