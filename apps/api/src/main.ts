// First, before the role's code loads: start-up must not grow V8's young generation for nothing.
import '@eufy-relay/runtime/lean-start';
import { runMain } from '@eufy-relay/runtime';
import { start } from './index';

// Fire-and-forget: runMain handles its own failures (logs them and exits): nothing awaits a main.
void runMain('api', start);
