export * from './annexb';
export * from './gate';
export * from './adts';
export * from './args';
export * from './spawn';
export * from './process';
export * from './tools';
export * from './fmp4';
