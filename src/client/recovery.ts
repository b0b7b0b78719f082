/**
 * Connection-state recovery on the client (option `recovery`, docs/PROTOCOL.md "Recovery"):
 * what to ask the server to resume (session id, token, last processed offset), whether the
 * current session is a resumed one, and the replayed events that arrive before 'connect' of a
 * resumed session (held, then delivered right after it, so listeners see 'connect' first).
 */

/** A history offset as the server writes it: `epoch:position` (docs/PROTOCOL.md, Recovery). */
const OFFSET_RE = /^[A-Za-z0-9]{1,32}:\d{1,20}(?:-\d{1,20})?$/;

/** An event held until 'connect': name, data, binary or not, history offset. */
export type HeldEvent = [event: string, data: unknown, isBinary: boolean, offset: string | null];

/** The recovery fields of the server's Connect. */
interface Granted {
  token?: unknown;
  offset?: unknown;
  reason?: unknown;
}

export class Recovery {
  /** Id, token and last processed offset of the session to resume after a drop. */
  #resume: { id: string; token: string; offset: string | null } | null = null;
  #resumeSent = false;
  #recovered = false;
  #held: HeldEvent[] | null = null;

  /** True when the current session is the previous one resumed. */
  get recovered(): boolean {
    return this.#recovered;
  }

  /**
   * The `recovery` field of our Connect: the session to resume when there is one with an
   * offset, `{}` to ask for a resumable session, undefined when recovery is off.
   */
  connectField(enabled: boolean): unknown {
    const resume = this.#resume;
    this.#resumeSent = false;
    if (!enabled) return undefined;
    this.#resumeSent = resume !== null && resume.offset !== null;
    return this.#resumeSent ? { id: resume!.id, token: resume!.token, offset: resume!.offset } : {};
  }

  /**
   * Reads the server's Connect `body` (session `id`). Returns the reason when a resume was
   * asked for and refused (the caller emits 'recovery_failed'), else null.
   */
  onConnect(body: Record<string, unknown>, id: string | null, enabled: boolean): string | null {
    const asked = this.#resumeSent;
    this.#resumeSent = false;
    const granted = enabled ? (body.recovery as Granted | undefined) : undefined;
    this.#recovered = asked && body.recovered === true && granted !== undefined;
    this.#held = this.#recovered ? [] : null;
    if (granted && typeof granted === 'object' && typeof granted.token === 'string' && id !== null) {
      this.#resume = { id, token: granted.token, offset: typeof granted.offset === 'string' ? granted.offset : null };
    } else this.#resume = null;
    if (!asked || this.#recovered) return null;
    return granted && typeof granted.reason === 'string' ? granted.reason : 'not_supported';
  }

  /**
   * Where the history offset starts in a received event name, or -1. Recorded messages carry
   * it after a NUL in the event field (only for sessions that asked for recovery).
   */
  offsetCut(event: string): number {
    if (!this.#resume) return -1;
    const cut = event.lastIndexOf('\u0000');
    return cut >= 0 && OFFSET_RE.test(event.slice(cut + 1)) ? cut : -1;
  }

  /** True while events of a resumed session wait for 'connect'. */
  get holding(): boolean {
    return this.#held !== null;
  }

  /** Keeps an event of a resumed session that arrived before 'connect' (see `holding`). */
  hold(item: HeldEvent): void {
    this.#held?.push(item);
  }

  /** The held events, once: delivery goes straight through afterwards. */
  takeHeld(): HeldEvent[] | null {
    const held = this.#held;
    this.#held = null;
    return held;
  }

  /** An event was processed: a resumed session continues after it. */
  processed(offset: string | null): void {
    if (offset !== null && this.#resume) this.#resume.offset = offset;
  }

  /** A deliberate disconnect ends the session for good: nothing to resume. */
  reset(): void {
    this.#resume = null;
    this.#held = null;
    this.#recovered = false;
  }
}
