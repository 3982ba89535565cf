// Error codes of node:fs (Node and Deno) that the file-system store turns into typed store errors.

export function errCode(e: unknown): string | undefined {
  return (e as { code?: string } | undefined)?.code;
}

/** Out of space (full disk, quota). */
export function isNoSpace(e: unknown): boolean {
  const code = errCode(e);
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** The medium or folder cannot be written. */
export function isReadOnly(e: unknown): boolean {
  const code = errCode(e);
  return code === 'EROFS' || code === 'EACCES' || code === 'EPERM';
}
