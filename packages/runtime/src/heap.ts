import { setFlagsFromString } from 'node:v8';

/** V8's own value (`node --v8-options`): each growth doubles the young generation. */
const V8_DEFAULT_GROWTH_FACTOR = 2;

/** Someone chose the young generation's size (NODE_OPTIONS or a node flag): theirs stands. */
function tunedByHand(): boolean {
  return [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((arg) => arg.includes('semi-space'));
}

let holding = false;

/**
 * Loading a role's code allocates megabytes that all survive (functions, module records, schemas).
 * V8 reads that survival as a busy program and doubles its young generation after each scavenge, up
 * to 16 MB of semi-spaces that then sit unused while the role idles, until V8's memory reducer
 * returns them many seconds later. Holding growth while the code loads keeps them at 1 MB; what
 * survives goes to the old generation as it would anyway. Called from a role's main.ts before
 * anything else loads (`import '@eufy-relay/runtime/lean-start'` does it); runMain lets go once the role
 * is ready.
 */
export function holdYoungGeneration(): void {
  if (holding || tunedByHand()) return;
  setFlagsFromString('--semi-space-growth-factor=1');
  holding = true;
}

/** V8's default again: under real load the young generation grows as V8 sees fit. */
export function releaseYoungGeneration(): void {
  if (!holding) return;
  setFlagsFromString(`--semi-space-growth-factor=${V8_DEFAULT_GROWTH_FACTOR}`);
  holding = false;
}
