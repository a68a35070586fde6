import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a real engine, so a test can take the engine away
 * (close the port and cut every connection: clients see ECONNREFUSED) and bring
 * it back on the same port, without stopping the server other suites share.
 */
export class TcpProxy {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly targetHost: string, private readonly targetPort: number) {}

  /** Listens (on a free port the first time, then on the same one again). */
  async start(): Promise<this> {
    if (this.server) return this;
    const server = createServer((client) => {
      const upstream = connect(this.targetPort, this.targetHost);
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
    if (server) await new Promise((resolve) => server.close(resolve));
  }

  /** The engine is back, on the same port. */
  async restore(): Promise<void> {
    await this.start();
  }

  stop(): Promise<void> {
    return this.cut();
  }
}
