import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Editable email templates (README "Emails"). Each template is three files in the templates
 * folder: `<name>.subject.txt`, `<name>.txt` and `<name>.html`. Tokens are written `#{name}`;
 * blocks `#{if_not_company_email}…#{end}` and `#{if:token}…#{end}` show their content only when
 * the condition holds (see config/templates/README.md). Everything is parsed and checked once at
 * start-up: a missing file, an unknown token or an unbalanced block is a start-up error.
 */

export const TEMPLATE_NAMES = ['activation', 'welcome', 'password-reset', 'reminder'] as const;
export type TemplateName = (typeof TEMPLATE_NAMES)[number];

/** Every token a template may use. */
export const TEMPLATE_TOKENS = [
  'user_email',
  'user_company_email',
  'first_name',
  'last_name',
  'username',
  'activation_link',
  'link_expiry_days',
  'reset_link_expiry_hours',
  'org_name',
  'portal_url',
] as const;
export type TemplateToken = (typeof TEMPLATE_TOKENS)[number];

/** Values for the tokens; a missing value renders as the empty string. */
export type TemplateVars = Partial<Record<TemplateToken, string | number | null | undefined>>;

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

type Node =
  | { kind: 'text'; value: string }
  | { kind: 'var'; name: TemplateToken }
  | { kind: 'block'; condition: Condition; body: Node[] };

type Condition = { kind: 'notCompanyEmail' } | { kind: 'present'; name: TemplateToken };

type Part = 'subject' | 'text' | 'html';
type CompiledTemplate = Record<Part, Node[]>;

/** The parsed templates, as returned by loadTemplates(). */
export interface Templates {
  readonly dir: string;
  readonly byName: Readonly<Record<TemplateName, CompiledTemplate>>;
}

const FILE_SUFFIX: Record<Part, string> = { subject: '.subject.txt', text: '.txt', html: '.html' };
const KNOWN = new Set<string>(TEMPLATE_TOKENS);
const TOKEN_RE = /#\{([^}\n]*)\}/g;

function isToken(name: string): name is TemplateToken {
  return KNOWN.has(name);
}

/** Parses one file's text; throws an Error that names the file, the line and the offending token. */
export function compileTemplate(source: string, file: string): Node[] {
  const root: Node[] = [];
  let current = root;
  let open: { line: number } | undefined;
  let last = 0;
  const lineOf = (index: number) => source.slice(0, index).split('\n').length;
  const fail = (index: number, message: string): never => {
    throw new Error(`email template ${file}, line ${lineOf(index)}: ${message}`);
  };
  const unclosed = source.search(/#\{[^}\n]*(\n|$)/);
  if (unclosed >= 0) fail(unclosed, 'a "#{" is not closed with "}" on the same line');

  for (const match of source.matchAll(TOKEN_RE)) {
    const index = match.index;
    if (index > last) current.push({ kind: 'text', value: source.slice(last, index) });
    last = index + match[0].length;
    const raw = match[1].trim();

    if (raw === 'end') {
      if (!open) fail(index, 'unexpected #{end} without an opening #{if…}');
      current = root;
      open = undefined;
      continue;
    }
    let condition: Condition | undefined;
    if (raw === 'if_not_company_email') condition = { kind: 'notCompanyEmail' };
    else if (raw.startsWith('if:')) {
      const name = raw.slice(3).trim();
      if (!isToken(name))
        fail(index, `unknown token "${name}" in #{${raw}}; known tokens: ${TEMPLATE_TOKENS.join(', ')}`);
      condition = { kind: 'present', name: name as TemplateToken };
    }
    if (condition) {
      if (open) fail(index, `#{${raw}} inside another block (blocks do not nest; close it with #{end} first)`);
      const block: Node = { kind: 'block', condition, body: [] };
      root.push(block);
      current = block.body;
      open = { line: lineOf(index) };
      continue;
    }
    if (!isToken(raw)) fail(index, `unknown token #{${raw}}; known tokens: ${TEMPLATE_TOKENS.join(', ')}`);
    current.push({ kind: 'var', name: raw as TemplateToken });
  }
  if (last < source.length) current.push({ kind: 'text', value: source.slice(last) });
  if (open) throw new Error(`email template ${file}, line ${open.line}: block is not closed with #{end}`);
  return root;
}

/** Reads, parses and validates every template file. Call once at start-up; throws on any problem. */
export function loadTemplates(dir: string): Templates {
  const byName = {} as Record<TemplateName, CompiledTemplate>;
  for (const name of TEMPLATE_NAMES) {
    const compiled = {} as CompiledTemplate;
    for (const part of Object.keys(FILE_SUFFIX) as Part[]) {
      const file = path.join(dir, `${name}${FILE_SUFFIX[part]}`);
      let source: string;
      try {
        source = readFileSync(file, 'utf8');
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new Error(
          code === 'ENOENT'
            ? `email template ${file} is missing (each template needs .subject.txt, .txt and .html)`
            : `cannot read email template ${file}: ${(err as Error).message}`,
          { cause: err },
        );
      }
      compiled[part] = compileTemplate(part === 'subject' ? source.trim() : source, file);
    }
    byName[name] = compiled;
  }
  return Object.freeze({ dir, byName: Object.freeze(byName) });
}

/** A template given as text (a directory's own, README "Directories"): its three parts. */
export type TemplateSource = Record<Part, string>;

/** Sample values a template is rendered with once before it is accepted. */
const SAMPLE_VARS: TemplateVars = {
  user_email: 'ann.lee@home.example',
  user_company_email: 'ann.lee@corp.example',
  first_name: 'Ann',
  last_name: 'Lee',
  username: 'ann.lee@corp.example',
  activation_link: 'https://roster.example/activate?token=sample',
  link_expiry_days: 14,
  reset_link_expiry_hours: 24,
  org_name: 'Example Corp',
  portal_url: 'https://portal.example',
};

/**
 * `base` with some templates replaced by the given sources, each parsed and rendered once with
 * sample values; throws an Error naming the template and part (`<label>.<name>.<part>`).
 */
export function withOverrides(
  base: Templates,
  sources: Partial<Record<TemplateName, TemplateSource>>,
  label: string,
): Templates {
  const byName = { ...base.byName } as Record<TemplateName, CompiledTemplate>;
  for (const [name, source] of Object.entries(sources) as [TemplateName, TemplateSource][]) {
    const compiled = {} as CompiledTemplate;
    for (const part of Object.keys(FILE_SUFFIX) as Part[]) {
      const text = part === 'subject' ? source[part].trim() : source[part];
      compiled[part] = compileTemplate(text, `${label}.${name}.${part}`);
    }
    byName[name] = compiled;
    renderTemplate({ dir: base.dir, byName }, name, SAMPLE_VARS);
  }
  return Object.freeze({ dir: base.dir, byName: Object.freeze(byName) });
}

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function valueOf(vars: TemplateVars, name: TemplateToken): string {
  const v = vars[name];
  return v === undefined || v === null ? '' : String(v);
}

function holds(condition: Condition, vars: TemplateVars): boolean {
  if (condition.kind === 'present') return valueOf(vars, condition.name) !== '';
  const company = valueOf(vars, 'user_company_email').trim().toLowerCase();
  const recipient = valueOf(vars, 'user_email').trim().toLowerCase();
  return company !== '' && company !== recipient;
}

function renderNodes(nodes: Node[], vars: TemplateVars, encode: (s: string) => string): string {
  let out = '';
  for (const node of nodes) {
    if (node.kind === 'text') out += node.value;
    else if (node.kind === 'var') out += encode(valueOf(vars, node.name));
    else if (holds(node.condition, vars)) out += renderNodes(node.body, vars, encode);
  }
  return out;
}

/**
 * Renders one template. Values are HTML-escaped in the HTML body only; the subject and the text
 * body are plain. Line breaks in values are flattened to spaces in the subject (one header line).
 */
export function renderTemplate(templates: Templates, name: TemplateName, vars: TemplateVars): RenderedEmail {
  const t = templates.byName[name];
  if (!t) throw new Error(`unknown email template "${name}"`);
  const plain = (s: string) => s;
  return {
    subject: renderNodes(t.subject, vars, (s) => s.replace(/[\r\n]+/g, ' '))
      .replace(/[\r\n]+/g, ' ')
      .trim(),
    text: renderNodes(t.text, vars, plain),
    html: renderNodes(t.html, vars, escapeHtml),
  };
}
