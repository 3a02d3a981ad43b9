import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMailer, MailSendError, type Mailer } from '../../src/mail/transport.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtpSink.js';

let sink: SmtpSink;
let mailer: Mailer;

beforeAll(async () => {
  sink = await startSmtpSink();
  mailer = createMailer({ smtpUrl: sink.url, from: 'Roster <no-reply@example.com>' });
});

afterAll(async () => {
  await mailer.close();
  await sink.close();
});

describe('SMTP mailer', () => {
  it('sends text and HTML bodies over SMTP', async () => {
    sink.clear();
    const { messageId } = await mailer.send({
      to: 'bo@example.org',
      subject: 'Grüße – hello',
      text: 'Plain body with a link https://x.test/a?token=1',
      html: '<p>HTML <b>body</b></p>',
    });
    expect(messageId).toMatch(/^<.+@.+>$/);
    const [mail] = await sink.waitFor(1);
    expect(mail.from).toBe('no-reply@example.com');
    expect(mail.to).toEqual(['bo@example.org']);
    expect(mail.subject).toBe('Grüße – hello');
    expect(mail.text).toContain('https://x.test/a?token=1');
    expect(mail.html).toContain('<p>HTML <b>body</b></p>');
    expect(mail.raw).toContain(`Message-ID: ${messageId}`);
  });

  it('reports a temporary SMTP failure as a non-permanent MailSendError', async () => {
    sink.clear();
    sink.failNext(1);
    const err = await mailer.send({ to: 'bo@example.org', subject: 's', text: 't', html: '<p>h</p>' }).catch((e) => e);
    expect(err).toBeInstanceOf(MailSendError);
    expect(err.responseCode).toBe(451);
    expect(err.permanent).toBe(false);
    await mailer.send({ to: 'bo@example.org', subject: 's', text: 't', html: '<p>h</p>' });
    expect(sink.messages).toHaveLength(1);
  });

  it('fails when nothing listens at the SMTP address', async () => {
    const dead = createMailer({ smtpUrl: 'smtp://127.0.0.1:1', from: 'a@example.com', timeoutMs: 2000, poolSize: 0 });
    await expect(dead.send({ to: 'x@example.org', subject: 's', text: 't', html: 'h' })).rejects.toBeInstanceOf(
      MailSendError,
    );
    await dead.close();
  });
});
