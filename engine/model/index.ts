export * from './resources.ts';
export * from './state.ts';
export * from './issues.ts';
export * from './source.ts';
export * from './snapshot.ts';
