// Which filesystem a tree lives on. A network filesystem (NFS, SMB, sshfs...) answers each call
// after a round trip, so it wants many calls in flight; a local disk wants cheap synchronous calls.
import { readFileSync, realpathSync } from 'node:fs';

const NETWORK =
  /^(nfs|nfs4|cifs|smb3|smbfs|ncpfs|afs|ceph|glusterfs|lustre|9p|fuse\.sshfs|fuse\.s3fs|fuse\.rclone|fuse\.glusterfs|fuse\.ceph|davfs|fuse\.davfs2?)$/;

/** Decodes mountinfo's octal escapes (\040 for a space). */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Parses /proc/self/mountinfo text into (mount point, fs type). Pure. */
export function parseMountinfo(text: string): { mountPoint: string; fsType: string }[] {
  const out: { mountPoint: string; fsType: string }[] = [];
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    if (left[4] === undefined || right[0] === undefined) continue;
    out.push({ mountPoint: unescape(left[4]), fsType: right[0] });
  }
  return out;
}

/** The filesystem type of the mount holding `path` ('unknown' when it cannot be told). */
export function fsTypeOf(path: string, mountinfo?: string): string {
  let real: string;
  let text: string;
  try {
    real = realpathSync.native(path);
    text = mountinfo ?? readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return 'unknown';
  }
  let best = { mountPoint: '', fsType: 'unknown' };
  for (const m of parseMountinfo(text)) {
    const inside = m.mountPoint === '/' || real === m.mountPoint || real.startsWith(m.mountPoint + '/');
    if (inside && m.mountPoint.length >= best.mountPoint.length) best = m;
  }
  return best.fsType;
}

export function isNetworkFs(fsType: string): boolean {
  return NETWORK.test(fsType);
}
