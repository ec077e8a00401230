/** A size as people read it in a message: `1.5 MiB`, `256 MiB`, `12 KiB` (rounded up below a MiB). */
export function formatBytes(bytes: number): string {
  const mib = 1024 * 1024;
  if (bytes >= mib) return `${Number((bytes / mib).toFixed(1))} MiB`;
  return `${Math.ceil(bytes / 1024)} KiB`;
}
