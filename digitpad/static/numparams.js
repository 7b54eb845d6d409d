// The number reader's constants, loaded from numbers-params.json: the JSON that
// digitpad/numberparams.py writes from the Python reader's own modules (a test fails when the
// committed file differs from them). The JavaScript never declares these numbers itself.
//
//   await loadParams();          // once, before reading (ondevice.js loadDevice does it)
//   P.segment.LINE_SIDE          // 48: digitpad.segment.LINE_SIDE

export const P = {};

let loading = null;

/** Fetch numbers-params.json once (the service worker keeps it for offline use). */
export function loadParams() {
  if (!loading) {
    loading = fetch(new URL("numbers-params.json", import.meta.url)).then(async (r) => {
      if (!r.ok) throw new Error(`numbers-params.json answered ${r.status}`);
      Object.assign(P, await r.json());
      return P;
    }, (e) => {
      loading = null;
      throw e;
    });
  }
  return loading;
}
