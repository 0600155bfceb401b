// A byte relay between a TCP port and a Unix socket, for reaching a server across network namespaces:
// a Unix socket path is visible in every namespace, so `listen-tcp` inside a lab namespace plus
// `listen-unix` in the host's makes 127.0.0.1:PORT in the namespace reach 127.0.0.1:PORT in the host
// (the run's Kafka broker for the compliance e2e suite). Killing either end (by its PID) cuts the path.
//   node tcp-unix-relay.mjs listen-tcp PORT UNIX_PATH [OWNER_PID]   (in the namespace: 127.0.0.1:PORT -> UNIX_PATH)
//   node tcp-unix-relay.mjs listen-unix UNIX_PATH PORT [OWNER_PID]  (in the host: UNIX_PATH -> 127.0.0.1:PORT)
// With OWNER_PID the relay exits once that process is gone (a test run that crashed leaves none behind).
import { rmSync } from 'node:fs';
import net from 'node:net';

const [mode, a, b, owner] = process.argv.slice(2);
if (owner !== undefined) {
  setInterval(() => {
    try {
      process.kill(Number(owner), 0);
    } catch {
      process.exit(0);
    }
  }, 1000);
}
const pipe = (client, connectTo) => {
  const upstream = net.connect(connectTo);
  client.pipe(upstream);
  upstream.pipe(client);
  const close = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', close);
  upstream.on('error', close);
  client.on('close', close);
  upstream.on('close', close);
};
let server;
if (mode === 'listen-tcp') {
  server = net.createServer((c) => pipe(c, { path: b }));
  server.listen({ host: '127.0.0.1', port: Number(a) }, () =>
    console.log(`listening 127.0.0.1:${a} -> ${b}`),
  );
} else if (mode === 'listen-unix') {
  rmSync(a, { force: true });
  server = net.createServer((c) => pipe(c, { host: '127.0.0.1', port: Number(b) }));
  server.listen({ path: a }, () => console.log(`listening ${a} -> 127.0.0.1:${b}`));
} else {
  console.error('usage: tcp-unix-relay.mjs listen-tcp PORT UNIX_PATH | listen-unix UNIX_PATH PORT');
  process.exit(2);
}
server.on('error', (error) => {
  console.error(error.message);
  process.exit(1);
});
