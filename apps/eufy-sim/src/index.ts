export * from './scenario';
export * from './buffer-json';
export { AccessUnitSplitter, AdtsSplitter, assertFfmpeg, MediaFactory, MediaFrame } from './media';
export * from './simulator';
export * from './detections';
export type { DetectionLoadReport } from './load';
