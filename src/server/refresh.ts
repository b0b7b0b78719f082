/**
 * Auth that refreshes, the server's side (docs/PROTOCOL.md, "Credential refresh"):
 *
 *   ctx.setExpiry(at)          from middleware (e.g. a JWT's exp) or any handler
 *   -> before `at`             a client whose Connect said `refresh: true` gets a Connect
 *                              `{ refresh: msLeft }`; it answers with a Connect `{ v, auth }`
 *   -> the answer              runs through the same middleware chain as the handshake
 *                              (`ctx.eventName === 'refresh'`, `ctx.data` = the new auth), on
 *                              the open connection: id, rooms, recovery state stay
 *   -> accepted                the connection continues with the expiry the chain set (none
 *                              set: it no longer expires)
 *   -> refused, or `at` passes Error STELAR_ERR_AUTH_EXPIRED and close 4010 (reconnect with
 *                              new credentials); so is a client that cannot refresh, at `at`
 *
 * Why the same chain and not a hook of its own: the code that checks credentials at the
 * handshake is the code that should check them again, with no second copy to forget; a
 * middleware with work for the handshake only tells the two apart by `ctx.eventName`.
 * Timing is src/server/auth-expiry.ts (one timer for every connection).
 */
import { CloseCode, ErrorCode, type Packet, PacketType, StelarError } from '../protocol/index.js';
import { ExpiryClock } from './auth-expiry.js';
import { type ContextHost, StelarContext } from './context.js';
import type { Handlers } from './handlers.js';
import { runMiddleware } from './middleware.js';
import type { ResolvedConfig } from './options.js';
import { type Session, SessionState } from './session.js';

export interface RefreshParts {
  config: ResolvedConfig;
  handlers: Handlers;
  contextHost: ContextHost;
}

function expired(message: string): StelarError {
  return new StelarError(ErrorCode.AUTH_EXPIRED, message, CloseCode.AUTH_EXPIRED);
}

export class CredentialRefresh {
  readonly #p: RefreshParts;
  readonly #clock: ExpiryClock<Session>;

  constructor(parts: RefreshParts) {
    this.#p = parts;
    const config = parts.config;
    this.#clock = new ExpiryClock<Session>({
      ask: (session, msLeft) => this.#ask(session, msLeft),
      expire: (session, asked) => this.#expire(session, asked),
      get leadTime() {
        return config.authRefreshLeadTime;
      },
    });
  }

  /** `ctx.setExpiry`: epoch ms, or null for none. */
  setExpiry(session: Session, at: number | null): void {
    if (session.state >= SessionState.CLOSING) return;
    this.#clock.set(session, at);
    // Set during the handshake, it waits for `arm`; on an accepted session it counts at once.
    if (session.state === SessionState.OPEN) this.#clock.arm(session);
  }

  expiresAt(session: Session): number | null {
    return this.#clock.expiresAt(session);
  }

  /**
   * The handshake's middleware accepted: credentials it gave an expiry that already passed
   * are refused like expired ones (Error, 4010). Returns false when refused.
   */
  acceptable(session: Session): boolean {
    const at = this.#clock.expiresAt(session);
    if (at === null || at > Date.now()) return true;
    this.#clock.forget(session);
    session.fail(expired('the credentials have already expired'));
    return false;
  }

  /** The session went live: its expiry, if middleware set one, starts counting. */
  arm(session: Session): void {
    this.#clock.arm(session);
  }

  /** The session is gone (admitted or not). */
  forget(session: Session): void {
    if (this.#clock.size > 0) this.#clock.forget(session);
  }

  /** The server asked this client for fresh credentials and waits for its Connect. */
  awaitsAnswer(session: Session): boolean {
    return this.#clock.size > 0 && this.#clock.awaitsAnswer(session);
  }

  /**
   * The client's Connect on its open connection, answering our request: its `auth` goes
   * through the middleware chain. A Promise holds the client's later packets until the
   * verdict (as at the handshake), so they are handled with the credentials they followed.
   */
  answer(session: Session, packet: Packet): void | Promise<void> {
    const token = this.#clock.beginRefresh(session);
    if (token < 0) return;
    const { handlers, contextHost, config } = this.#p;
    const data = packet.data as { auth?: unknown } | null | undefined;
    const auth = data !== null && typeof data === 'object' ? data.auth : undefined;
    const ctx = new StelarContext(contextHost, session, 'refresh', auth);
    const finish = (verdict: true | StelarError): void => {
      if (session.state !== SessionState.OPEN) return; // the expiry passed meanwhile (closed)
      this.#clock.endRefresh(session, token, verdict === true);
      if (verdict !== true) session.fail(expired(`fresh credentials refused: ${verdict.message}`));
    };
    const chain = handlers.middleware;
    if (chain.length === 0) return finish(true);
    // The chain has until the current credentials expire (then the clock closes the connection).
    const verdict = runMiddleware(chain, ctx, () => session.state !== SessionState.OPEN, {
      deadline: this.#clock.expiresAt(session) ?? Date.now(),
      logger: config.logger,
    });
    if (verdict instanceof Promise) return verdict.then(finish);
    finish(verdict);
  }

  /** The server stops: no timer left behind. */
  clear(): void {
    this.#clock.clear();
  }

  #ask(session: Session, msLeft: number): void {
    session.sendPacket({ type: PacketType.CONNECT, event: '', data: { refresh: msLeft } });
  }

  #expire(session: Session, asked: boolean): void {
    if (session.state >= SessionState.CLOSING) return;
    session.fail(expired(asked ? 'no fresh credentials before the current ones expired' : 'the credentials expired'));
  }
}
