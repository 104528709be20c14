// Socket plumbing shared by the node player and a pod's sandbox (netns-agent.ts): two sockets
// joined end to end, and the one-line header that names where a bridged connection goes.
import type { Socket } from 'node:net';

/** Joins two sockets both ways; either end closing or failing closes the other. */
export function pipeBoth(a: Socket, b: Socket): void {
  a.pipe(b).pipe(a);
  const end = (): void => {
    a.destroy();
    b.destroy();
  };
  a.once('error', end).once('close', end);
  b.once('error', end).once('close', end);
}

/**
 * Reads one "<header>\n" line (at most 256 bytes) from a fresh connection and pauses it; the
 * bytes after the line are handed over with the header.
 */
export function readHeader(socket: Socket, onHeader: (header: string, rest: Buffer) => void): void {
  let buffered = Buffer.alloc(0);
  const onData = (chunk: Buffer): void => {
    buffered = Buffer.concat([buffered, chunk]);
    const newline = buffered.indexOf(10);
    if (newline < 0) {
      if (buffered.length > 256) socket.destroy();
      return;
    }
    socket.off('data', onData);
    socket.pause();
    onHeader(buffered.subarray(0, newline).toString('latin1'), buffered.subarray(newline + 1));
  };
  socket.on('data', onData);
  socket.once('error', () => socket.destroy());
}
