/**
 * The SCIM filter grammar (RFC 7644 §3.4.2.2): a small recursive-descent parser of our own, with
 * JSON string escapes, Entra's `emails[type eq "work"].value eq "x"` kept as one value path, and
 * length and depth limits (README: why not scim2-parse-filter). Pure: text in, syntax tree out.
 */
import { ScimError } from './errors.js';
import { ATTRNAME, quote, tryParseAttributePath, type AttributePath } from './attributePath.js';

export type CompareOp = 'eq' | 'ne' | 'co' | 'sw' | 'ew' | 'gt' | 'ge' | 'lt' | 'le' | 'pr';

export const MAX_FILTER_LENGTH = 10_000;
/** Nesting limit for parentheses, `not` and value paths together. */
export const MAX_FILTER_DEPTH = 50;

export type FilterValue = string | number | boolean | null;
export type FilterNode =
  | { kind: 'and' | 'or'; items: FilterNode[] }
  | { kind: 'not'; item: FilterNode }
  /** Inside a value path, `path` is relative to the element: `{ attribute: <sub-attribute name> }`. */
  | { kind: 'compare'; path: AttributePath; op: CompareOp; value?: FilterValue }
  | { kind: 'valuePath'; path: AttributePath; filter: FilterNode };

const COMPARE_OPS = new Set<string>(['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le', 'pr']);
export const ORDER_OPS = new Set<CompareOp>(['gt', 'ge', 'lt', 'le']);
export const SUBSTRING_OPS = new Set<CompareOp>(['co', 'sw', 'ew']);

export function invalid(detail: string): ScimError {
  return new ScimError(400, `Invalid filter: ${detail}`, 'invalidFilter');
}

type TokenType = 'word' | 'string' | '(' | ')' | '[' | ']' | 'end';
interface Token {
  type: TokenType;
  text: string;
  /** decoded value of a string token */
  value?: string;
  start: number;
  end: number;
}

const WORD_CHAR = /[A-Za-z0-9_$:.\-+%/]/;
export const NUMBER = /^-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?$/;

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
    } else if (c === '(' || c === ')' || c === '[' || c === ']') {
      tokens.push({ type: c, text: c, start: i, end: i + 1 });
      i++;
    } else if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (j >= text.length) throw invalid(`unterminated string starting at position ${i}`);
      const raw = text.slice(i, j + 1);
      let value: unknown;
      try {
        // JSON string escapes; raw control characters are tolerated (escaped before parsing)
        value = JSON.parse(
          // eslint-disable-next-line no-control-regex
          raw.replace(/[\u0000-\u001f]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`),
        );
      } catch {
        throw invalid(`invalid escape in the string starting at position ${i}`);
      }
      tokens.push({ type: 'string', text: raw, value: value as string, start: i, end: j + 1 });
      i = j + 1;
    } else if (WORD_CHAR.test(c)) {
      let j = i + 1;
      while (j < text.length && WORD_CHAR.test(text[j])) j++;
      tokens.push({ type: 'word', text: text.slice(i, j), start: i, end: j });
      i = j;
    } else {
      throw invalid(`unexpected character ${quote(c)} at position ${i}`);
    }
  }
  tokens.push({ type: 'end', text: '', start: text.length, end: text.length });
  return tokens;
}

function describe(token: Token): string {
  return token.type === 'end' ? 'the end of the filter' : `${quote(token.text, 40)} at position ${token.start}`;
}

class Parser {
  private pos = 0;
  private depth = 0;
  private inValuePath = false;

  constructor(private readonly tokens: Token[]) {}

  parse(): FilterNode {
    const node = this.parseOr();
    const t = this.peek();
    if (t.type !== 'end') {
      throw invalid(`expected "and", "or" or the end of the filter but found ${describe(t)}`);
    }
    return node;
  }

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.pos + offset, this.tokens.length - 1)];
  }

  private next(): Token {
    const t = this.peek();
    if (this.pos < this.tokens.length - 1) this.pos++;
    return t;
  }

  private expect(type: TokenType): Token {
    const t = this.next();
    if (t.type !== type) throw invalid(`expected "${type}" but found ${describe(t)}`);
    return t;
  }

  private isKeyword(token: Token, keyword: string): boolean {
    return token.type === 'word' && token.text.toLowerCase() === keyword;
  }

  /** Checked before every recursive descent, so no input can exhaust the stack. */
  private enter(at: Token): void {
    if (++this.depth > MAX_FILTER_DEPTH) {
      throw invalid(`nesting deeper than ${MAX_FILTER_DEPTH} levels at position ${at.start}`);
    }
  }

  private leave(): void {
    this.depth--;
  }

  private parseOr(): FilterNode {
    const items = [this.parseAnd()];
    while (this.isKeyword(this.peek(), 'or')) {
      this.next();
      items.push(this.parseAnd());
    }
    return items.length === 1 ? items[0] : { kind: 'or', items };
  }

  private parseAnd(): FilterNode {
    const items = [this.parseUnary()];
    while (this.isKeyword(this.peek(), 'and')) {
      this.next();
      items.push(this.parseUnary());
    }
    return items.length === 1 ? items[0] : { kind: 'and', items };
  }

  private parseUnary(): FilterNode {
    const t = this.peek();
    if (t.type === '(') {
      this.enter(t);
      this.next();
      const node = this.parseOr();
      this.expect(')');
      this.leave();
      return node;
    }
    if (this.isKeyword(t, 'not')) {
      const after = this.peek(1);
      // `not(...)` per RFC; `not attr op value` tolerated; `not eq "x"` / `not pr` is an attribute named "not"
      if (after.type === '(' || (after.type === 'word' && !COMPARE_OPS.has(after.text.toLowerCase()))) {
        this.enter(t);
        this.next();
        const item = this.parseUnary();
        this.leave();
        return { kind: 'not', item };
      }
    }
    if (t.type === 'word') return this.parseAttributeExpression();
    throw invalid(`expected an attribute, "not" or "(" but found ${describe(t)}`);
  }

  private parsePath(token: Token): AttributePath {
    if (this.inValuePath) {
      if (!ATTRNAME.test(token.text)) {
        throw invalid(`${quote(token.text, 60)} at position ${token.start} is not a sub-attribute name`);
      }
      return { attribute: token.text };
    }
    const path = tryParseAttributePath(token.text);
    if (typeof path === 'string') throw invalid(`${path} (position ${token.start})`);
    return path;
  }

  private parseAttributeExpression(): FilterNode {
    const pathToken = this.next();
    const path = this.parsePath(pathToken);
    const t = this.peek();
    if (t.type === '[') {
      if (this.inValuePath) throw invalid(`nested value paths are not supported (position ${t.start})`);
      if (path.subAttribute) {
        throw invalid(`a value path needs a multi-valued attribute, not ${quote(pathToken.text, 60)}`);
      }
      this.enter(t);
      this.next();
      this.inValuePath = true;
      const inner = this.parseOr();
      const close = this.expect(']');
      this.inValuePath = false;
      this.leave();
      const sub = this.peek();
      // Entra: emails[type eq "work"].value eq "x" -> one element with type work and value x
      if (sub.type === 'word' && sub.start === close.end && sub.text.startsWith('.')) {
        this.next();
        const name = sub.text.slice(1);
        if (!ATTRNAME.test(name))
          throw invalid(`${quote(sub.text, 60)} at position ${sub.start} is not a sub-attribute`);
        const compare = this.parseComparison({ attribute: name });
        return { kind: 'valuePath', path, filter: { kind: 'and', items: [inner, compare] } };
      }
      return { kind: 'valuePath', path, filter: inner };
    }
    return this.parseComparison(path);
  }

  private parseComparison(path: AttributePath): FilterNode {
    const t = this.next();
    const op = t.type === 'word' ? t.text.toLowerCase() : '';
    if (!COMPARE_OPS.has(op))
      throw invalid(`expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) but found ${describe(t)}`);
    if (op === 'pr') return { kind: 'compare', path, op };
    return { kind: 'compare', path, op: op as CompareOp, value: this.parseValue() };
  }

  private parseValue(): FilterValue {
    const t = this.next();
    if (t.type === 'string') return t.value!;
    if (t.type === 'word') {
      const lower = t.text.toLowerCase();
      if (lower === 'true') return true;
      if (lower === 'false') return false;
      if (lower === 'null') return null;
      if (NUMBER.test(t.text)) {
        const n = Number(t.text);
        if (!Number.isFinite(n)) throw invalid(`number out of range at position ${t.start}`);
        return n;
      }
    }
    throw invalid(`expected a value (a "string", a number, true, false or null) but found ${describe(t)}`);
  }
}

/** Parses a filter into its syntax tree; throws ScimError 400 invalidFilter. */
export function parseFilter(filter: string): FilterNode {
  if (typeof filter !== 'string') throw invalid('the filter must be a string');
  if (filter.length > MAX_FILTER_LENGTH) throw invalid(`the filter is longer than ${MAX_FILTER_LENGTH} characters`);
  if (filter.trim() === '') throw invalid('the filter is empty');
  return new Parser(tokenize(filter)).parse();
}
