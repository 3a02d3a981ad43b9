import nodemailer from 'nodemailer';

/** One email ready to go: bodies already rendered. */
export interface OutgoingMail {
  to: string;
  /** The sender, when not the mailer's default (a directory's own `mail.from`). */
  from?: string;
  subject: string;
  text: string;
  html: string;
}

export interface Mailer {
  /** Sends over SMTP; resolves with the Message-ID once the server accepted the message. */
  send(mail: OutgoingMail): Promise<{ messageId: string }>;
  close(): Promise<void>;
}

export interface MailerOptions {
  /** nodemailer SMTP URL, e.g. smtp://user:pass@host:587 or smtps://host:465. */
  smtpUrl: string;
  /** Sender, e.g. `Roster <no-reply@example.com>`. */
  from: string;
  /** Keep up to this many SMTP connections open and reuse them (default 3); 0 opens one per message. */
  poolSize?: number;
  /** Connection, greeting and socket-inactivity timeout in milliseconds (default 30 s). */
  timeoutMs?: number;
}

/** An SMTP send error, with the server's reply code and whether retrying can help. */
export class MailSendError extends Error {
  override name = 'MailSendError';
  constructor(
    message: string,
    readonly responseCode: number | undefined,
    /** true for a 5xx rejection: the same message would be rejected again. */
    readonly permanent: boolean,
  ) {
    super(message);
  }
}

/**
 * The SMTP mailer (nodemailer). It never logs: message bodies hold single-use links, so callers
 * log only the recipient, the kind and the Message-ID.
 */
export function createMailer(options: MailerOptions): Mailer {
  const timeout = options.timeoutMs ?? 30_000;
  const poolSize = options.poolSize ?? 3;
  const transport = nodemailer.createTransport({
    url: options.smtpUrl,
    ...(poolSize > 0 ? { pool: true as const, maxConnections: poolSize } : {}),
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
    logger: false,
    debug: false,
  });

  return {
    async send(mail) {
      try {
        const info = await transport.sendMail({
          from: mail.from ?? options.from,
          to: mail.to,
          subject: mail.subject,
          text: mail.text,
          html: mail.html,
        });
        return { messageId: String(info.messageId ?? '') };
      } catch (err) {
        const e = err as Error & { responseCode?: number; permanent?: boolean; response?: string };
        const code = typeof e.responseCode === 'number' ? e.responseCode : undefined;
        const permanent = e.permanent ?? (code !== undefined && code >= 500 && code < 600);
        // The SMTP reply says what went wrong and holds no message content.
        throw new MailSendError(e.message, code, permanent);
      }
    },
    async close() {
      transport.close();
    },
  };
}
