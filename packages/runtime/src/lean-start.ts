// Imported first by each role's main.ts, before the role's code loads: see holdYoungGeneration.
import { holdYoungGeneration } from './heap';

holdYoungGeneration();
