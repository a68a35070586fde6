import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a real engine, so a test can take the engine away
 * (close the port and cut every connection: clients see ECONNREFUSED) and bring
 * it back on the same port, without stopping the server other suites share.
 */
export class TcpProxy {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  /** Client and upstream sockets of each proxied connection, so silence() can stop forwarding on them. */
  private readonly pairs = new Set<[Socket, Socket]>();
  /** Set by silence(): the engine "hangs": connections are accepted, nothing is answered. */
  private silent = false;
  private readonly silenced = new Set<Socket>();
  port = 0;

  constructor(private readonly targetHost: string, private readonly targetPort: number) {}

  /** Listens (on a free port the first time, then on the same one again). */
  async start(): Promise<this> {
    if (this.server) return this;
    const server = createServer((client) => {
      if (this.silent) {
        this.hush(client);
        return;
      }
      const upstream = connect(this.targetPort, this.targetHost);
      const pair: [Socket, Socket] = [client, upstream];
      this.pairs.add(pair);
      client.once('close', () => this.pairs.delete(pair));
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('error', () => {});
        s.once('close', () => {
          this.sockets.delete(s);
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as { port: number }).port;
    this.server = server;
    return this;
  }

  /** The engine "goes down": the port is closed and open connections are cut. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    for (const s of this.silenced) s.destroy();
    if (server) await new Promise((resolve) => server.close(resolve));
  }

  /** Reads and drops everything a socket sends, answers nothing. */
  private hush(socket: Socket): void {
    this.silenced.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => this.silenced.delete(socket));
    socket.on('data', () => {});
  }

  /**
   * The engine "hangs": the port stays open, new connections are accepted, and
   * nothing is forwarded either way on them or on the open ones (clients wait for answers that never come).
   */
  silence(): void {
    this.silent = true;
    for (const [client, upstream] of this.pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      this.hush(client);
      this.hush(upstream);
    }
    this.pairs.clear();
  }

  /** The engine is back, on the same port (after cut() or silence(); silenced connections are reset). */
  async restore(): Promise<void> {
    this.silent = false;
    for (const s of this.silenced) s.destroy();
    this.silenced.clear();
    await this.start();
  }

  stop(): Promise<void> {
    return this.cut();
  }
}
