/**
 * tus-bundle.js — several files as one bundle, sent resumably: each file through tus
 * (tus-upload.js: retries, "Reconnecting…", resume after a closed tab), one after the other,
 * then one POST /api/bundles (api.js joinBundle) that joins them behind one token.
 *
 * uploadBundleResumable(items, options) answers { promise, cancel } like uploadResumable,
 * the promise resolving to the bundle's JSON (kind "bundle", files). items are {file, path};
 * onProgress(loaded, total) counts the bytes of all files, in order, so the staged list can
 * spread them over its bars. Each file's upload is a bundle member's (tus-upload.js, bundled):
 * it issues no token and draws on the server's allowance for bundle files, not on its upload
 * allowance, which the join alone uses; if the join never comes, the server sweeps the files with
 * their uploads (UPLOAD_SESSION_TTL). cancel() stops the file in flight (DELETE) and deletes the
 * uploads of the files already stored (DELETE), which takes their files; a bundle joined after
 * Cancel was pressed is deleted too.
 */

import { ApiError, deleteFile, joinBundle } from './api.js';
import { terminate, uploadResumable } from './tus-upload.js';

export function uploadBundleResumable(items, options = {}) {
  const { onProgress, onReconnecting, password } = options;
  const total = items.reduce((sum, item) => sum + item.file.size, 0);
  const done = []; // {handle, forget} of each stored file
  let current = null;
  let cancelled = false;

  async function sendAll() {
    let before = 0;
    for (const { file, path } of items) {
      if (cancelled) throw new ApiError('aborted');
      current = uploadResumable(file, {
        password, path, bundled: true, onReconnecting,
        onProgress: (sent) => onProgress?.(before + sent, total),
      });
      await current.promise;
      done.push({ handle: current.handle(), forget: current.forget });
      before += file.size;
    }
    current = null;
    const uploads = done.map(({ handle }, index) => ({ id: handle.id, secret: handle.secret, path: items[index].path }));
    const bundle = await joinBundle(uploads, options);
    for (const { forget } of done) forget();
    if (cancelled) {
      deleteFile(bundle.owner_token).catch(() => {});
      throw new ApiError('aborted');
    }
    return bundle;
  }

  let settle = null;
  const promise = new Promise((resolve, reject) => {
    settle = reject;
    sendAll().then(resolve, reject);
  });

  function cancel() {
    cancelled = true;
    current?.cancel();
    for (const { handle, forget } of done.splice(0)) {
      forget();
      terminate(handle);
    }
    settle(new ApiError('aborted'));
  }

  return { promise, cancel };
}
