import { runMain } from '@eufy-relay/runtime';
import { start } from './index';

void runMain('launcher', start);
