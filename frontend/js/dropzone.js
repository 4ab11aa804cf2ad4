/**
 * dropzone.js — drag-and-drop anywhere on the page, plus keyboard-friendly
 * file pickers.
 *
 * Elements marked `data-dropzone` are targets. A drop inside one goes to
 * it; a drop anywhere else goes to the one marked `data-dropzone="default"`.
 * The chosen zone receives a bubbling CustomEvent:
 *   "dropzone:file"    detail {file}    one regular file was dropped or picked
 *   "dropzone:files"   detail {files}   several files, or a folder's files: [{file, path}], path
 *                                       relative to what was dropped ("photos/2026/a.jpg")
 *   "dropzone:refused" detail {code}    a folder that could not be read
 * Zones decide themselves whether they are busy and what they take.
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

/** Every file under `entry` (webkitGetAsEntry), with its path from the dropped item. */
async function filesUnder(entry) {
  if (entry.isFile) {
    const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
    return [{ file, path: entry.fullPath.replace(/^\/+/, '') || file.name }];
  }
  const reader = entry.createReader();
  const found = [];
  for (;;) { // readEntries answers in batches until an empty one
    const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
    if (!batch.length) break;
    for (const child of batch) found.push(...(await filesUnder(child)));
  }
  return found;
}

/** What a drop holds; its entries must be taken during the drop event itself. */
function dropped(dataTransfer) {
  const files = Array.from(dataTransfer.files);
  const entries = Array.from(dataTransfer.items ?? []).map((item) => item.webkitGetAsEntry?.()).filter(Boolean);
  if (!entries.some((entry) => entry.isDirectory)) {
    return { files, read: Promise.resolve(files.map((file) => ({ file, path: file.name }))) };
  }
  return { files, read: Promise.all(entries.map(filesUnder)).then((lists) => lists.flat()) };
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
    const { files, read } = dropped(event.dataTransfer);
    read.then((items) => {
      if (items.length === 1 && files.length === 1) emit(zone, 'dropzone:file', { file: items[0].file });
      else if (items.length) emit(zone, 'dropzone:files', { files: items });
      else emit(zone, 'dropzone:refused', { code: 'folder' });
    }, () => emit(zone, 'dropzone:refused', { code: 'folder' }));
  });
}

/**
 * A visible button that opens a hidden file input, so the picker works
 * with Tab and Enter/Space. The event is sent from the button.
 */
export function bindPicker(button, input) {
  button.addEventListener('click', () => input.click());
  input.addEventListener('change', () => {
    const files = Array.from(input.files ?? []);
    input.value = '';
    if (files.length === 1 && !files[0].webkitRelativePath) emit(button, 'dropzone:file', { file: files[0] });
    else if (files.length) {
      emit(button, 'dropzone:files', { files: files.map((file) => ({ file, path: file.webkitRelativePath || file.name })) });
    }
  });
}
