// First, before the role's code loads: start-up must not grow V8's young generation for nothing.
import '@eufy-relay/runtime/lean-start';
import { runMain } from '@eufy-relay/runtime';
import { start } from './index';

void runMain('notifier', start);
