// Public entry point. Thin on purpose: it re-exports, it does not implement.
export * from './protocol/index.js';
