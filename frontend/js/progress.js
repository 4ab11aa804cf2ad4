/**
 * progress.js — the upload progress bar: percentage, bytes, speed, time left.
 *
 * Speed is measured over a sliding window of recent samples so it reacts
 * to the link without jumping around. Text updates at most a few times a
 * second; the bar itself follows every event. STALL_MS without a new byte
 * says "Stalled" in place of a speed that is no longer true.
 */

import { formatBytes, formatSpeed, formatTimeLeft } from './format.js';
import { locale, t } from './i18n.js';

const WINDOW_MS = 3000;
const TEXT_EVERY_MS = 250;
const STALL_MS = 10000;

export function Progress(root) {
  const bar = root.querySelector('progress');
  const percent = root.querySelector('[data-progress="percent"]');
  const bytes = root.querySelector('[data-progress="bytes"]');
  const speed = root.querySelector('[data-progress="speed"]');
  const name = root.querySelector('[data-progress="name"]');
  let samples = [];
  let lastText = 0;
  let lastByte = 0; // when the last new byte was reported
  let watch = 0;

  function checkStall() {
    if (performance.now() - lastByte >= STALL_MS) speed.textContent = t('progress.stalled', { seconds: STALL_MS / 1000 });
  }

  function stop() {
    clearInterval(watch);
  }

  function rate(now) {
    samples = samples.filter((s) => now - s.time <= WINDOW_MS || s === samples[samples.length - 1]);
    const first = samples[0];
    const last = samples[samples.length - 1];
    const seconds = (last.time - first.time) / 1000;
    return seconds > 0.2 ? (last.loaded - first.loaded) / seconds : 0;
  }

  function start(file) {
    samples = [{ time: performance.now(), loaded: 0 }];
    lastText = 0;
    lastByte = performance.now();
    stop();
    watch = setInterval(checkStall, 1000);
    name.textContent = file.name;
    bar.value = 0;
    bar.max = 100;
    percent.textContent = '0%';
    bytes.textContent = t('progress.bytes', { loaded: formatBytes(0), total: formatBytes(file.size) });
    speed.textContent = t('progress.starting');
  }

  function update(loaded, total) {
    const now = performance.now();
    if (loaded > samples[samples.length - 1].loaded) lastByte = now;
    else return checkStall();
    samples.push({ time: now, loaded });
    const share = total > 0 ? Math.min(100, (loaded / total) * 100) : 100;
    bar.value = share;
    if (now - lastText < TEXT_EVERY_MS && loaded < total) return;
    lastText = now;
    const perSecond = rate(now);
    percent.textContent = new Intl.NumberFormat(locale(), { style: 'percent', maximumFractionDigits: 0 }).format(Math.floor(share) / 100);
    bytes.textContent = t('progress.bytes', { loaded: formatBytes(loaded), total: formatBytes(total) });
    speed.textContent = perSecond
      ? t('progress.speed', { speed: formatSpeed(perSecond), left: formatTimeLeft((total - loaded) / perSecond) })
      : t('progress.measuring');
  }

  function finishing() {
    stop(); // the server is working now, not the link
    bar.value = 100;
    percent.textContent = '100%';
    speed.textContent = t('progress.finishing');
  }

  return { start, update, finishing, stop };
}
