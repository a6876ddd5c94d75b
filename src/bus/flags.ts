// NATS connection flags shared by every command that talks to the bus (watch, tap, apply), so the
// same flag means the same thing everywhere. Secrets come from flags or the environment and are
// never logged; the resolved config keeps them under redacted key names (natsToken, natsPassword).
import type { FlagSpecs } from '../config/index.js';
import { usage } from '../errors.js';
import { DEFAULT_NATS_URL, DEFAULT_STREAM, DEFAULT_SUBJECT_PREFIX, type NatsBusOptions } from './nats.js';

export const natsFlags = {
  'nats-url': {
    type: 'string',
    valueName: 'url',
    env: 'NATS_URL',
    default: DEFAULT_NATS_URL,
    help: 'NATS server URL(s), comma-separated',
  },
  'nats-token': { type: 'string', valueName: 'token', env: 'NATS_TOKEN', help: 'NATS token (never logged)' },
  'nats-user': {
    type: 'string',
    valueName: 'user',
    env: 'NATS_USER',
    help: 'NATS user (with --nats-password)',
  },
  'nats-password': {
    type: 'string',
    valueName: 'password',
    env: 'NATS_PASSWORD',
    help: 'NATS password (never logged)',
  },
  'nats-creds': {
    type: 'string',
    valueName: 'file',
    env: 'NATS_CREDS',
    help: 'NATS credentials file (JWT + nkey seed)',
  },
  'nats-tls-ca': {
    type: 'string',
    valueName: 'file',
    env: 'NATS_TLS_CA',
    help: "PEM file of the CA that signed the server's certificate (turns TLS on)",
  },
  'nats-tls-cert': {
    type: 'string',
    valueName: 'file',
    env: 'NATS_TLS_CERT',
    help: 'PEM client certificate, for servers that verify clients (with --nats-tls-key)',
  },
  'nats-tls-key': {
    type: 'string',
    valueName: 'file',
    env: 'NATS_TLS_KEY',
    help: 'PEM private key of --nats-tls-cert (never logged)',
  },
  stream: {
    type: 'string',
    valueName: 'name',
    default: DEFAULT_STREAM,
    hidden: true,
    help: 'JetStream stream name',
  },
  'subject-prefix': {
    type: 'string',
    valueName: 'token',
    default: DEFAULT_SUBJECT_PREFIX,
    hidden: true,
    help: 'First subject token',
  },
} as const satisfies FlagSpecs;

export interface NatsConfig {
  readonly natsUrl: string;
  readonly natsToken: string | undefined;
  readonly natsUser: string | undefined;
  readonly natsPassword: string | undefined;
  readonly natsCreds: string | undefined;
  /** TLS files (paths; read when the bus opens). Any of them, or a tls:// URL, turns TLS on. */
  readonly natsTlsCa: string | undefined;
  readonly natsTlsCert: string | undefined;
  readonly natsTlsKey: string | undefined;
  readonly stream: string;
  readonly subjectPrefix: string;
}

const URL_RE = /^(nats|tls|ws|wss):\/\/[^\s/]+\/?$|^[^\s/:]+(:\d+)?$/;

export function resolveNatsConfig(v: {
  'nats-url': string | undefined;
  'nats-token': string | undefined;
  'nats-user': string | undefined;
  'nats-password': string | undefined;
  'nats-creds': string | undefined;
  'nats-tls-ca': string | undefined;
  'nats-tls-cert': string | undefined;
  'nats-tls-key': string | undefined;
  stream: string | undefined;
  'subject-prefix': string | undefined;
}): NatsConfig {
  const url = v['nats-url'] || DEFAULT_NATS_URL;
  for (const u of url.split(',')) {
    if (!URL_RE.test(u.trim())) {
      throw usage(
        `--nats-url: expected nats://host:port (comma-separated for several), got '${u.replace(/\/\/[^@/]*@/, '//')}'`,
      );
    }
  }
  const token = v['nats-token'] || undefined;
  const user = v['nats-user'] || undefined;
  const password = v['nats-password'] || undefined;
  const creds = v['nats-creds'] || undefined;
  if (password && !user) throw usage('--nats-password needs --nats-user');
  if ([token, user, creds].filter(Boolean).length > 1) {
    throw usage('--nats-token, --nats-user and --nats-creds are exclusive: give one of them');
  }
  const tlsCa = fileFlag('nats-tls-ca', v['nats-tls-ca']);
  const tlsCert = fileFlag('nats-tls-cert', v['nats-tls-cert']);
  const tlsKey = fileFlag('nats-tls-key', v['nats-tls-key']);
  if (!!tlsCert !== !!tlsKey) throw usage('--nats-tls-cert and --nats-tls-key go together: give both');
  const stream = v.stream || DEFAULT_STREAM;
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(stream))
    throw usage(`--stream: expected letters, digits, _ or -, got '${stream}'`);
  const prefix = v['subject-prefix'] || DEFAULT_SUBJECT_PREFIX;
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(prefix)) {
    throw usage(`--subject-prefix: expected one subject token (letters, digits, _ or -), got '${prefix}'`);
  }
  return Object.freeze({
    natsUrl: url,
    natsToken: token,
    natsUser: user,
    natsPassword: password,
    natsCreds: creds,
    natsTlsCa: tlsCa,
    natsTlsCert: tlsCert,
    natsTlsKey: tlsKey,
    stream,
    subjectPrefix: prefix,
  });
}

/** A file flag: unset, or a non-empty path without NUL (read later, when the bus opens). */
function fileFlag(name: string, v: string | undefined): string | undefined {
  if (v === undefined || v === '') return undefined;
  if (v.trim() === '' || v.includes('\0')) throw usage(`--${name}: expected a file path, got '${v}'`);
  return v;
}

/** The bus options for a resolved config. */
export function natsBusOptions(c: NatsConfig): NatsBusOptions {
  return {
    kind: 'nats',
    url: c.natsUrl,
    ...(c.natsToken ? { token: c.natsToken } : {}),
    ...(c.natsUser ? { user: c.natsUser, password: c.natsPassword ?? '' } : {}),
    ...(c.natsCreds ? { credsFile: c.natsCreds } : {}),
    ...(c.natsTlsCa || c.natsTlsCert
      ? {
          tls: {
            ...(c.natsTlsCa ? { caFile: c.natsTlsCa } : {}),
            ...(c.natsTlsCert ? { certFile: c.natsTlsCert, keyFile: c.natsTlsKey ?? '' } : {}),
          },
        }
      : {}),
    stream: c.stream,
    subjectPrefix: c.subjectPrefix,
  };
}
