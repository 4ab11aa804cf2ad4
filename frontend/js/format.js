/**
 * format.js — turns numbers and dates into short human text in the page's
 * language (i18n.js), never the browser's.
 *
 * No DOM. Sizes use binary units (KiB, MiB, GiB) so the server's limits
 * (powers of two) read as round numbers; durations, dates and plurals come
 * from Intl.
 */

import { locale, t } from './i18n.js';

const UNITS = ['size.KiB', 'size.MiB', 'size.GiB', 'size.TiB'];
const DURATIONS = [
  ['day', 86400],
  ['hour', 3600],
  ['minute', 60],
  ['second', 1],
];

function number(value, digits = 0) {
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: digits }).format(value);
}

/** 1536 -> "1.5 KiB"; 0 -> "0 bytes". */
export function formatBytes(bytes) {
  if (!Number.isFinite(bytes) || bytes < 1024) {
    return t('size.bytes', { count: Math.max(0, Math.round(bytes || 0)) });
  }
  let value = bytes;
  let unit = -1;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = value < 10 ? 2 : value < 100 ? 1 : 0;
  return t(UNITS[unit], { value: number(value, digits) });
}

/** 1234 -> "1,234 bytes" (exact, for checking a download). */
export function formatExactBytes(bytes) {
  return t('size.bytes', { count: bytes });
}

/** "1.21 KiB (1,234 bytes)"; small sizes are exact already: "100 bytes". */
export function formatSize(bytes) {
  const short = formatBytes(bytes);
  return bytes < 1024 ? short : t('size.both', { short, exact: formatExactBytes(bytes) });
}

/** Bytes per second -> "12.3 MiB/s". */
export function formatSpeed(bytesPerSecond) {
  return t('size.perSecond', { size: formatBytes(bytesPerSecond) });
}

function unit(count, name) {
  return new Intl.NumberFormat(locale(), { style: 'unit', unit: name, unitDisplay: 'long' }).format(count);
}

/** 604800 -> "7 days"; 5400 -> "1 hour, 30 minutes". 0 -> "never". */
export function formatDuration(seconds) {
  if (!seconds) return t('time.never');
  const parts = [];
  let rest = Math.round(seconds);
  for (const [name, size] of DURATIONS) {
    const count = Math.floor(rest / size);
    if (count > 0) parts.push(unit(count, name));
    rest -= count * size;
    if (parts.length === 2) break;
  }
  return new Intl.ListFormat(locale(), { style: 'narrow', type: 'unit' }).format(parts);
}

/** Seconds left -> "about 3 minutes left" (rough on purpose). */
export function formatTimeLeft(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return '';
  if (seconds < 5) return t('time.fewSeconds');
  if (seconds < 90) return t('time.left', { duration: unit(Math.round(seconds / 5) * 5, 'second') });
  if (seconds < 5400) return t('time.left', { duration: unit(Math.round(seconds / 60), 'minute') });
  return t('time.left', { duration: formatDuration(Math.round(seconds / 600) * 600) });
}

/** ISO date or null -> "In 7 days (3 Dec 2026, 14:00)" / "Never". */
export function formatExpiry(iso, now = Date.now()) {
  if (!iso) return t('expiry.never');
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return t('expiry.unknown');
  const date = new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'short' }).format(when);
  const seconds = (when.getTime() - now) / 1000;
  if (seconds <= 0) return t('expiry.past', { date });
  return t('expiry.future', { relative: relative(seconds), date });
}

function relative(seconds) {
  const rtf = new Intl.RelativeTimeFormat(locale(), { numeric: 'auto' });
  for (const [name, size] of DURATIONS) {
    // A little slack so "59 min 58 s" after an upload still reads "in 1 hour".
    if (seconds >= size * 0.98 || name === 'second') {
      return capitalise(rtf.format(Math.round(seconds / size), name));
    }
  }
  return '';
}

function capitalise(text) {
  return text.charAt(0).toLocaleUpperCase(locale()) + text.slice(1);
}

/** "report.pdf" -> "PDF file"; no extension -> "Unknown type". */
export function formatType(name) {
  const ext = /\.([A-Za-z0-9]{1,8})$/.exec(String(name))?.[1];
  return ext ? t('type.ext', { ext: ext.toUpperCase() }) : t('type.unknown');
}

/** null -> "Unlimited", 3 -> "3". */
export function formatDownloadsLeft(count) {
  return count === null || count === undefined ? t('downloads.unlimited') : number(count);
}
