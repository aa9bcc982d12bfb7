// An error's text for logs and problems, whatever was thrown.
export function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
