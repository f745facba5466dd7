export * from './recent';
export * from './reporter';
