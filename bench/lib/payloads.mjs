/** Payloads shared by servers and generators, so both sides agree on what "complete" means. */

/** Text inside every broadcast message: a client checks it arrived byte for byte. */
export const BROADCAST_TEXT = 'the quick brown fox jumps over the lazy dog';
/** Body of a throughput event (small, realistic: an object with a counter and a short string). */
export const EVENT_TEXT = 'cursor moved';
/** Body of an echo request. */
export const ECHO_TEXT = 'ping';
export const ROOM = 'bench';
