/**
 * Counts every socket a listener StelarServer created accepts, from the first byte until it
 * is gone: idle HTTP connections, requests, TLS handshakes and sessions alike. Sessions are
 * capped by the hub (`maxConnections`, `maxConnectionsPerIP`), but a socket that never
 * upgrades, or is still handshaking, or was refused and is closing, is not a session: without
 * this gate one address could hold any number of them.
 *
 * A socket is destroyed at accept when the server already holds `maxConnections +
 * TOTAL_SLACK` sockets, or its address `maxConnectionsPerIP + PER_IP_SLACK`. The slack leaves
 * room for the sessions' own admission to refuse first (with an Error that says why, 4002 or
 * 4003) and for refused sockets to say goodbye; past it the peer gets no answer at all.
 * With a `customIPTracker` the per-address part is off: the tracker may count addresses this
 * gate cannot see (a proxy's clients), and one proxy must not be capped as one peer.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Server as NetServer, Socket } from 'node:net';
import type { LoggerLike } from '../logger.js';
import { normaliseAddress } from './transport.js';

export const PER_IP_SLACK = 16;
export const TOTAL_SLACK = 256;

/**
 * How many sockets the process can hold before the open-file limit (`ulimit -n`): the soft
 * limit minus the descriptors already open when the server started minus a reserve for what
 * opens later (adapter connections, files, DNS). Linux only (/proc); null elsewhere or when
 * unreadable, and then only the accept errors are watched.
 */
export function socketBudget(): number | null {
  try {
    const limits = readFileSync('/proc/self/limits', 'utf8');
    const soft = /^Max open files\s+(\d+|unlimited)/m.exec(limits)?.[1];
    if (!soft || soft === 'unlimited') return null;
    const limit = Number(soft);
    const open = readdirSync('/proc/self/fd').length;
    const reserve = Math.max(8, Math.min(64, Math.floor(limit / 16)));
    return Math.max(1, limit - open - reserve);
  } catch {
    return null;
  }
}

export interface GateLimits {
  readonly maxConnections: number;
  readonly maxConnectionsPerIP: number;
  readonly customIPTracker: unknown;
  readonly logger: LoggerLike;
}

const kGate = Symbol('stelar.gate');
const kGateIp = Symbol('stelar.gate.ip');
type GatedSocket = Socket & { [kGate]?: SocketGate; [kGateIp]?: string };

function onGatedSocketClose(this: GatedSocket): void {
  this[kGate]?.release(this[kGateIp] ?? '');
  this[kGate] = undefined;
}

export class SocketGate {
  readonly #limits: GateLimits;
  readonly #perIp = new Map<string, number>();
  #total = 0;
  #dropped = 0;
  /** Sockets allowed before the descriptor limit (see socketBudget); null = unknown. */
  #budget: number | null = null;
  /** Connections lost to the descriptor limit in the current episode (0 = none going on). */
  #starved = 0;

  /** `limits` is read at each accept, so runtime changes apply at once. */
  constructor(limits: GateLimits) {
    this.#limits = limits;
  }

  /** Measures the descriptor budget (call when the listeners start). */
  measure(): void {
    this.#budget = socketBudget();
    const l = this.#limits;
    if (this.#budget !== null && this.#budget < l.maxConnections) {
      l.logger.warn(`maxConnections is ${l.maxConnections} but the open-file limit leaves room for about ${this.#budget} sockets: raise \`ulimit -n\``);
    }
  }

  get total(): number {
    return this.#total;
  }

  /** Sockets refused at accept since the server started. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Open sockets from `ip` (normalised). */
  count(ip: string): number {
    return this.#perIp.get(ip) ?? 0;
  }

  /**
   * Gates every connection of `server`, before its own 'connection' listeners run, and keeps
   * an accept error (EMFILE, ENFILE...) from crashing the process: one line per episode.
   */
  watch(server: NetServer, label: string): () => void {
    const onConnection = (socket: Socket): void => this.#admit(socket);
    const onError = (err: NodeJS.ErrnoException): void => {
      if (err.syscall === 'accept') this.#starving(`${label}: accept failed (${err.code ?? err.message})`);
    };
    server.prependListener('connection', onConnection);
    server.on('error', onError);
    return () => {
      server.off('connection', onConnection);
      server.off('error', onError);
    };
  }

  /** Out of descriptors: logged once per episode; the episode ends at the next accepted socket. */
  #starving(what: string): void {
    this.#dropped++;
    if (this.#starved++ > 0) return;
    this.#limits.logger.error(
      `${what}: out of file descriptors (${this.#total} sockets open); new connections are dropped at accept until some close. Raise \`ulimit -n\` or lower maxConnections.`,
    );
  }

  #admit(socket: Socket): void {
    const l = this.#limits;
    const ip = normaliseAddress(socket.remoteAddress);
    if (this.#budget !== null && this.#total >= this.#budget) {
      this.#starving('near the open-file limit');
      socket.destroy();
      return;
    }
    if (this.#starved > 0) {
      l.logger.warn(`accepting connections again (${this.#starved} dropped while out of file descriptors)`);
      this.#starved = 0;
    }
    const perIp = this.#perIp.get(ip) ?? 0;
    const overTotal = this.#total >= l.maxConnections + TOTAL_SLACK;
    const overIp = !l.customIPTracker && perIp >= l.maxConnectionsPerIP + PER_IP_SLACK;
    if (overTotal || overIp) {
      this.#dropped++;
      l.logger.debug(`connection from ${ip} dropped at accept: ${overTotal ? `${this.#total} sockets open` : `${perIp} sockets open from this address`}`);
      socket.destroy();
      return;
    }
    this.#total++;
    this.#perIp.set(ip, perIp + 1);
    // One shared listener finds the gate and the address on the socket: a closure and a
    // once-wrapper per socket cost a few hundred bytes of every idle connection.
    const tagged = socket as GatedSocket;
    tagged[kGate] = this;
    tagged[kGateIp] = ip;
    socket.on('close', onGatedSocketClose);
  }

  /** A counted socket closed (close fires once per socket). */
  release(ip: string): void {
    this.#total--;
    const n = this.#perIp.get(ip) ?? 0;
    if (n <= 1) this.#perIp.delete(ip);
    else this.#perIp.set(ip, n - 1);
  }
}
