// Runs once before the suite: fails fast with one clear line when a service the integration tests
// need is down, instead of a hundred timeouts.
import { connect } from 'node:net';

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => {
      s.end();
      resolve(true);
    });
    s.on('error', () => resolve(false));
    s.setTimeout(2000, () => {
      s.destroy();
      resolve(false);
    });
  });
}

export default async function setup(): Promise<void> {
  const missing: string[] = [];
  if (!(await portOpen(3306))) missing.push('MariaDB on 127.0.0.1:3306');
  if (!(await portOpen(4222))) missing.push('NATS on 127.0.0.1:4222');
  if (missing.length) {
    throw new Error(`integration services are down: ${missing.join(', ')} (bash .ci/run starts them)`);
  }
}
