import { hostname } from 'node:os';

/** The holder identity: `<pod-name>/<run-id>` (pod name from POD_NAME, else the hostname). */
export function holderIdentity(runId: string, env: NodeJS.ProcessEnv = process.env): string {
  return `${env.POD_NAME || hostname()}/${runId}`;
}
