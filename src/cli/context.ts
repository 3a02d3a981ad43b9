import { RosterClient } from './client.js';
import { CliError } from './errors.js';

export interface OutStream {
  write(chunk: string | Uint8Array): boolean;
  isTTY?: boolean;
  columns?: number;
  once(event: 'drain', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

export interface CliIo {
  env: NodeJS.ProcessEnv;
  stdout: OutStream & NodeJS.WritableStream;
  stderr: OutStream;
  stdin: NodeJS.ReadableStream;
}

export const DEFAULT_URL = 'http://127.0.0.1:8080';

/** What a command gets: its arguments, the streams, and the API client (created on first use). */
export class CommandContext {
  private api?: RosterClient;

  /**
   * @param directory the directory (id or slug) every admin call goes to: --directory, else
   * ROSTER_DIRECTORY (see RosterClient); undefined: the default directory.
   */
  constructor(
    readonly args: string[],
    readonly io: CliIo,
    readonly directory?: string,
  ) {}

  client(): RosterClient {
    if (!this.api) {
      const token = this.io.env.ROSTER_ADMIN_TOKEN?.trim();
      if (!token) {
        throw new CliError(
          "ROSTER_ADMIN_TOKEN is not set; set it to an admin API token (one of the server's admin tokens)",
          2,
        );
      }
      const base = RosterClient.parseBaseUrl(this.io.env.ROSTER_URL?.trim() || DEFAULT_URL);
      this.api = new RosterClient(base, token, this.directory);
    }
    return this.api;
  }

  out(text: string): void {
    this.io.stdout.write(text);
  }

  err(text: string): void {
    this.io.stderr.write(text);
  }

  close(): void {
    this.api?.close();
  }
}
