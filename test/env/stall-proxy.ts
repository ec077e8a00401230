/**
 * A TCP proxy on 127.0.0.1 in front of a real server of the test environment (the git server,
 * the registry), that can be told to stall: while stalled, bytes from clients are held (not
 * forwarded, not answered), so a client is caught mid-request — a git fetch or an image poll
 * "in flight" for as long as a test needs. What it holds is counted, so a test can wait for
 * "a request is in flight now" instead of sleeping.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface StallProxy {
  /** `127.0.0.1:PORT` */
  host: string;
  /** Hold every byte from clients from now on. */
  stall(): void;
  /** Forward again (held bytes are dropped with their connections). */
  release(): void;
  /** Chunks held since the last stall(): > 0 means a client is waiting on us now. */
  readonly held: number;
  close(): Promise<void>;
}

export async function startStallProxy(target: string): Promise<StallProxy> {
  const [targetHost, targetPort] = target.split(':') as [string, string];
  const sockets = new Set<Socket>();
  let stalled = false;
  let held = 0;
  const server: Server = createServer((client) => {
    sockets.add(client);
    const upstream = connect(Number(targetPort), targetHost);
    sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('data', (chunk) => {
      if (stalled) held += 1;
      else upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (!stalled) client.write(chunk);
    });
    client.on('close', drop);
    upstream.on('close', drop);
    client.on('error', drop);
    upstream.on('error', drop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    host: `127.0.0.1:${(server.address() as { port: number }).port}`,
    stall: () => {
      stalled = true;
      held = 0;
    },
    release: () => {
      stalled = false;
      for (const socket of sockets) socket.destroy();
    },
    get held() {
      return held;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
