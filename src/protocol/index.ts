export * from './codes.js';
export * from './errors.js';
export * from './packet.js';
export * from './reserved.js';
export type * from './presence.js';
