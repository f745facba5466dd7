export * from './settings';
export * from './load';
export * from './cameras';
export * from './issues';
