/**
 * qr.js — draws a QR code as inline SVG.
 *
 * The encoder is qrcode-generator from the npm registry, pinned in
 * package.json and committed in vendor/ (`npm run vendor` copies it). It is
 * loaded lazily so a missing vendor/ folder only costs the QR code, not the page.
 * The SVG is built with DOM calls: no innerHTML, no data: URL, so the
 * strict Content-Security-Policy needs no exception.
 */

const SVG = 'http://www.w3.org/2000/svg';
const QUIET_ZONE = 4; // modules of white border the QR spec asks for
const MODULE_PX = 3; // whole CSS pixels per module keep edges sharp for cameras

let encoder = null;

async function loadEncoder() {
  encoder ??= import('../vendor/qrcode.js').then((module) => module.default ?? module.qrcode);
  return encoder;
}

function pathFor(qr) {
  const count = qr.getModuleCount();
  let d = '';
  for (let row = 0; row < count; row += 1) {
    for (let col = 0; col < count; col += 1) {
      if (qr.isDark(row, col)) d += `M${col + QUIET_ZONE} ${row + QUIET_ZONE}h1v1h-1z`;
    }
  }
  return d;
}

/**
 * Render `text` into `container`. Resolves true when drawn, false when
 * the encoder could not be loaded (the caller hides the QR block).
 */
export async function renderQr(container, text, label) {
  let qrcode;
  try {
    qrcode = await loadEncoder();
  } catch {
    return false;
  }
  const qr = qrcode(0, 'M'); // 0 = smallest version that fits
  qr.addData(text, 'Byte');
  qr.make();
  const size = qr.getModuleCount() + QUIET_ZONE * 2;

  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${size} ${size}`);
  svg.setAttribute('width', String(size * MODULE_PX));
  svg.setAttribute('height', String(size * MODULE_PX));
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  svg.setAttribute('shape-rendering', 'crispEdges');
  const background = document.createElementNS(SVG, 'rect');
  background.setAttribute('width', String(size));
  background.setAttribute('height', String(size));
  background.setAttribute('fill', '#fff');
  const modules = document.createElementNS(SVG, 'path');
  modules.setAttribute('d', pathFor(qr));
  modules.setAttribute('fill', '#000');
  svg.append(background, modules);
  container.replaceChildren(svg);
  return true;
}
