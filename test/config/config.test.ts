import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, redactConfig } from '../../src/config/index.js';

function configFile(content: unknown): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'roster-config-'));
  const file = path.join(dir, 'roster.json');
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

describe('configuration', () => {
  it('loads the documented defaults', () => {
    const config = loadConfig({ env: {} });
    expect(config.users.defaultState).toEqual({ manual: 'STAGED', bulk: 'STAGED', integration: 'ACTIVE' });
    expect(config.activation.linkTtlDays).toBe(14);
    expect(config.scim.maxResults).toBeGreaterThanOrEqual(100);
    expect(Object.isFrozen(config.users.defaultState)).toBe(true);
  });

  it('overlays the ROSTER_CONFIG file, then environment variables', () => {
    const file = configFile({ server: { port: 9000, host: '0.0.0.0' }, users: { defaultState: { bulk: 'ACTIVE' } } });
    const config = loadConfig({
      env: {
        ROSTER_CONFIG: file,
        PORT: '9100',
        MONGODB_URI: 'mongodb://db.example:27017/roster',
        ROSTER_PUBLIC_URL: 'https://id.example.com/',
        ROSTER_SMTP_URL: 'smtp://mail.example:25',
        ROSTER_MAIL_FROM: 'IT <it@example.com>',
        ROSTER_SCIM_TOKEN: 'a-scim-token-of-enough-length',
        ROSTER_ADMIN_TOKEN: 'an-admin-token-of-enough-length',
      },
    });
    expect(config.server.port).toBe(9100);
    expect(config.server.host).toBe('0.0.0.0');
    expect(config.server.publicUrl).toBe('https://id.example.com');
    expect(config.users.defaultState).toEqual({ manual: 'STAGED', bulk: 'ACTIVE', integration: 'ACTIVE' });
    expect(config.mongodb.uri).toBe('mongodb://db.example:27017/roster');
    expect(config.mail.from).toBe('IT <it@example.com>');
    expect(config.auth.scimTokens).toEqual([{ name: 'env', token: 'a-scim-token-of-enough-length', source: 'manual' }]);
    expect(config.auth.adminTokens).toEqual([{ name: 'env', token: 'an-admin-token-of-enough-length' }]);
  });

  it('without a public URL, links follow the port and host Roster listens on', () => {
    expect(loadConfig({ env: {} }).server.publicUrl).toBe('http://localhost:8080');
    expect(loadConfig({ env: { PORT: '18999' } }).server.publicUrl).toBe('http://localhost:18999');
    expect(loadConfig({ env: { PORT: '18999', HOST: '0.0.0.0' } }).server.publicUrl).toBe('http://localhost:18999');
    expect(loadConfig({ env: { PORT: '9000', HOST: '10.1.2.3' } }).server.publicUrl).toBe('http://10.1.2.3:9000');
    expect(loadConfig({ env: { PORT: '9000', ROSTER_PUBLIC_URL: 'https://id.example.com/' } }).server.publicUrl).toBe(
      'https://id.example.com',
    );
  });

  it.each([
    [{ users: { defaultState: { manual: 'PENDING' } } }, 'users.defaultState.manual'],
    [{ server: { port: 70000 } }, 'server.port'],
    [{ scim: { maxResults: 50 } }, 'scim.maxResults'],
    [{ users: { defaultPasswordAuthority: 'ldap' } }, 'users.defaultPasswordAuthority'],
    [{ mail: { smtpUrl: 'http://mail' } }, 'mail.smtpUrl'],
    [{ jobs: { processEvery: 'often' } }, 'jobs.processEvery'],
    [{ auth: { scimTokens: [{ name: 'x', hash: 'md5:abc' }] } }, 'auth.scimTokens.0'],
    [{ users: { unknownKey: true } }, 'users'],
  ])('rejects %j naming the key', (overrides, key) => {
    const file = configFile(overrides);
    expect(() => loadConfig({ env: { ROSTER_CONFIG: file } })).toThrowError(ConfigError);
    expect(() => loadConfig({ env: { ROSTER_CONFIG: file } })).toThrowError(new RegExp(key.replace(/\./g, '\\.')));
  });

  it('rejects a config file that is not JSON, naming the file', () => {
    const file = configFile('{ "server": ');
    expect(() => loadConfig({ env: { ROSTER_CONFIG: file } })).toThrowError(/not valid JSON/);
    expect(() => loadConfig({ env: { ROSTER_CONFIG: file } })).toThrowError(new RegExp(path.basename(file)));
  });

  it('rejects a bad PORT from the environment', () => {
    expect(() => loadConfig({ env: { PORT: 'eighty' } })).toThrowError(/server\.port/);
  });

  it('requires MONGODB_URI in production', () => {
    expect(() => loadConfig({ env: { NODE_ENV: 'production' } })).toThrowError(/mongodb\.uri/);
    expect(loadConfig({ env: { NODE_ENV: 'production', MONGODB_URI: 'mongodb://x/' } }).production).toBe(true);
  });

  it('redacts tokens and credentials in the effective configuration', () => {
    const config = loadConfig({
      env: { ROSTER_SCIM_TOKEN: 'secret-scim-token-value', MONGODB_URI: 'mongodb://user:pw@db/roster' },
    });
    const text = JSON.stringify(redactConfig(config));
    expect(text).not.toContain('secret-scim-token-value');
    expect(text).not.toContain('user:pw');
    expect(text).toContain('[redacted]');
  });
});
