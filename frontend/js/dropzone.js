/**
 * dropzone.js — drag-and-drop anywhere on the page, plus keyboard-friendly
 * file pickers.
 *
 * Elements marked `data-dropzone` are targets. A drop inside one goes to
 * it; a drop anywhere else goes to the one marked `data-dropzone="default"`.
 * The chosen zone receives a bubbling CustomEvent:
 *   "dropzone:file"    detail {file}   one regular file was dropped or picked
 *   "dropzone:refused" detail {code}   several files, or a folder
 * Zones decide themselves whether they are busy.
 */

function hasFiles(event) {
  return Array.from(event.dataTransfer?.types ?? []).includes('Files');
}

function zoneFor(target) {
  const inside = target instanceof Element ? target.closest('[data-dropzone]') : null;
  return inside ?? document.querySelector('[data-dropzone="default"]');
}

function emit(zone, type, detail) {
  zone?.dispatchEvent(new CustomEvent(type, { bubbles: true, detail }));
}

function isFolder(dataTransfer) {
  const item = dataTransfer.items?.[0];
  const entry = item?.webkitGetAsEntry?.();
  return Boolean(entry && entry.isDirectory);
}

function highlight(zone) {
  for (const el of document.querySelectorAll('[data-dropzone]')) {
    el.toggleAttribute('data-drag-over', el === zone);
  }
  document.body.toggleAttribute('data-dragging', Boolean(zone));
}

/** Listen on the whole document; call once. */
export function initDropzones() {
  let depth = 0;

  document.addEventListener('dragenter', (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    depth += 1;
    highlight(zoneFor(event.target));
  });

  document.addEventListener('dragover', (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = 'copy';
    highlight(zoneFor(event.target));
  });

  document.addEventListener('dragleave', (event) => {
    if (!hasFiles(event)) return;
    depth = Math.max(0, depth - 1);
    if (depth === 0) highlight(null);
  });

  document.addEventListener('drop', (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    depth = 0;
    highlight(null);
    const zone = zoneFor(event.target);
    const files = event.dataTransfer.files;
    if (files.length !== 1) emit(zone, 'dropzone:refused', { code: 'one_file_only' });
    else if (isFolder(event.dataTransfer)) emit(zone, 'dropzone:refused', { code: 'folder' });
    else emit(zone, 'dropzone:file', { file: files[0] });
  });
}

/**
 * A visible button that opens a hidden file input, so the picker works
 * with Tab and Enter/Space. The event is sent from the button.
 */
export function bindPicker(button, input) {
  button.addEventListener('click', () => input.click());
  input.addEventListener('change', () => {
    const file = input.files?.[0];
    input.value = '';
    if (file) emit(button, 'dropzone:file', { file });
  });
}
