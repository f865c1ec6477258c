// A few sessions to one data source, shared by the widgets of one request. Sessions open
// lazily (a request whose widgets all hit the cache opens none), at most `max` at once —
// Workers allows six open sockets per request — and a session that failed or stopped reading
// mid-result is closed instead of handed to the next widget.
import type { Session } from "./types";

export class SessionPool {
  private readonly idle: Session[] = [];
  private readonly all = new Set<Session>();
  private readonly waiting: (() => void)[] = [];
  private opening = 0;
  private closed = false;

  constructor(
    private readonly open: () => Promise<Session>,
    private readonly max: number,
  ) {}

  /** Runs `work` on a session; `reusable(result)` says whether the session may serve again. */
  async use<T>(work: (session: Session) => Promise<T>, reusable: (result: T) => boolean = () => true): Promise<T> {
    const session = await this.acquire();
    let keep = false;
    try {
      const result = await work(session);
      keep = reusable(result);
      return result;
    } finally {
      if (keep && !this.closed) this.idle.push(session);
      else this.discard(session);
      this.waiting.shift()?.();
    }
  }

  private async acquire(): Promise<Session> {
    for (;;) {
      if (this.closed) throw new Error("The session pool is closed");
      const idle = this.idle.pop();
      if (idle) return idle;
      if (this.all.size + this.opening < this.max) {
        this.opening++;
        try {
          const session = await this.open();
          this.all.add(session);
          return session;
        } catch (err) {
          // The slot is free again: let a waiting widget try its own connection.
          this.waiting.shift()?.();
          throw err;
        } finally {
          this.opening--;
        }
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  private discard(session: Session): void {
    this.all.delete(session);
    void session.close().catch(() => {});
  }

  /** Closes every session, in use or idle (closing twice is harmless). */
  async close(): Promise<void> {
    this.closed = true;
    for (const wake of this.waiting.splice(0)) wake();
    await Promise.allSettled([...this.all].map((s) => s.close()));
    this.all.clear();
    this.idle.length = 0;
  }
}
