// An append-only file with size-based rotation: when the next write would
// take the file past maxBytes, file.(n-1) -> file.n (the oldest, file.n, is
// replaced: dropped), ..., file -> file.1, and writing goes on in a new file.
// A file passes maxBytes only when one write alone is larger. Asynchronous
// (fs.promises: the thread pool), one write at a time (the caller awaits).
// After an I/O error the handle is dropped and the next write reopens the file.
import fs from 'node:fs';
import path from 'node:path';

/** Where exported lines go: the file below, or a test's sink. */
export interface ExportSink {
  /** appends `data`; rejects on an I/O error (the data is then lost) */
  write(data: string): Promise<void>;
  /** the file being written */
  readonly current: string;
  readonly rotations: number;
  close(): Promise<void>;
}

export interface RotatingFileOptions {
  maxBytes: number;
  /** rotated files kept: file.1 ... file.n; 0: the file is started over */
  maxFiles: number;
}

export class RotatingFile implements ExportSink {
  private handle: fs.promises.FileHandle | undefined;
  private size = 0;
  rotations = 0;

  constructor(
    readonly current: string,
    private readonly opts: RotatingFileOptions,
  ) {
    if (!(opts.maxBytes > 0)) throw new RangeError(`max size must be more than 0, got ${opts.maxBytes}`);
    if (!Number.isInteger(opts.maxFiles) || opts.maxFiles < 0) throw new RangeError(`max files must be a whole number, got ${opts.maxFiles}`);
  }

  async write(data: string): Promise<void> {
    const bytes = Buffer.from(data, 'utf8');
    try {
      if (this.handle === undefined) await this.open();
      if (this.size > 0 && this.size + bytes.length > this.opts.maxBytes) await this.rotate();
      const h = this.handle as fs.promises.FileHandle;
      let done = 0;
      while (done < bytes.length) done += (await h.write(bytes, done, bytes.length - done)).bytesWritten;
      this.size += bytes.length;
    } catch (e) {
      await this.drop();
      throw e;
    }
  }

  async close(): Promise<void> {
    await this.drop();
  }

  private async open(): Promise<void> {
    this.handle = await fs.promises.open(this.current, 'a', 0o640);
    this.size = (await this.handle.stat()).size;
  }

  private async rotate(): Promise<void> {
    await this.drop();
    const name = (i: number) => (i === 0 ? this.current : `${this.current}.${i}`);
    if (this.opts.maxFiles === 0) await fs.promises.rm(this.current, { force: true });
    for (let i = this.opts.maxFiles - 1; i >= 0; i--) {
      await fs.promises.rename(name(i), name(i + 1)).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') throw e;
      });
    }
    this.rotations++;
    await this.open();
  }

  private async drop(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    this.size = 0;
    await h?.close().catch(() => undefined);
  }
}

/** The start-time check of an export path: its directory exists and is writable, and so is the file if it is there. */
export function checkExportPath(file: string): string | undefined {
  if (!path.isAbsolute(file)) return 'must be an absolute path';
  const dir = path.dirname(file);
  const st = fs.statSync(dir, { throwIfNoEntry: false });
  if (!st?.isDirectory()) return `${dir} is not a directory`;
  const fst = fs.statSync(file, { throwIfNoEntry: false });
  if (fst !== undefined && !fst.isFile()) return 'is not a regular file';
  try {
    fs.accessSync(fst !== undefined ? file : dir, fs.constants.W_OK);
  } catch {
    return `${fst !== undefined ? file : dir} is not writable`;
  }
  return undefined;
}
