// The markdown the plan route renders (the pull-request review of `fleetform diff`), parsed into a
// tree of plain text nodes: paragraphs, nested lists, tables, code, bold, and the <details>/<summary>
// sections the review folds its long parts into. There is no HTML node: any other tag, attribute or
// script in the text stays text, and the page renders it as text (never innerHTML). Pure: no DOM.

export type Inline = { type: 'text'; text: string } | { type: 'code'; text: string } | { type: 'strong'; children: Inline[] };

export type Align = 'left' | 'right' | 'center' | null;

export type Block =
  | { type: 'paragraph'; children: Inline[] }
  | { type: 'heading'; level: number; children: Inline[] }
  | { type: 'list'; items: ListItem[] }
  | { type: 'table'; align: Align[]; head: Inline[][]; rows: Inline[][][] }
  | { type: 'code'; text: string }
  | { type: 'details'; summary: Inline[]; children: Block[] };

export interface ListItem {
  children: Inline[];
  /** Items indented under this one. */
  items: ListItem[];
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-zA-Z]{2,6});/g, (whole, name: string) => {
    if (name.startsWith('#')) {
      const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      // NUL and lone surrogates are not characters; keep the text as written.
      return code > 0 && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff) ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[name] ?? whole;
  });
}

/** Code spans, **bold**, backslash escapes and entities; everything else is text. */
export function parseInline(source: string): Inline[] {
  const out: Inline[] = [];
  let text = '';
  const flush = (): void => {
    if (text) out.push({ type: 'text', text: decodeEntities(text) });
    text = '';
  };
  let i = 0;
  while (i < source.length) {
    const ch = source[i] as string;
    if (ch === '\\' && i + 1 < source.length && /[\\`*_{}[\]()#+\-.!|<>&]/.test(source[i + 1] as string)) {
      flush();
      // An escaped character is literal: not even an entity start.
      out.push({ type: 'text', text: source[i + 1] as string });
      i += 2;
      continue;
    }
    if (ch === '`') {
      let ticks = 1;
      while (source[i + ticks] === '`') ticks += 1;
      const fence = '`'.repeat(ticks);
      const end = source.indexOf(fence, i + ticks);
      if (end > 0) {
        flush();
        out.push({ type: 'code', text: source.slice(i + ticks, end) });
        i = end + ticks;
        continue;
      }
      text += fence;
      i += ticks;
      continue;
    }
    if (ch === '*' && source[i + 1] === '*') {
      const end = source.indexOf('**', i + 2);
      if (end > i + 2) {
        flush();
        out.push({ type: 'strong', children: parseInline(source.slice(i + 2, end)) });
        i = end + 2;
        continue;
      }
    }
    text += ch;
    i += 1;
  }
  flush();
  return out;
}

/** Splits a table row on `|` that is not escaped and not inside a code span. */
function tableCells(line: string): string[] {
  let body = line.trim();
  if (body.startsWith('|')) body = body.slice(1);
  if (body.endsWith('|') && !body.endsWith('\\|')) body = body.slice(0, -1);
  const cells: string[] = [];
  let cell = '';
  let inCode = false;
  for (let i = 0; i < body.length; i += 1) {
    const ch = body[i] as string;
    if (ch === '\\' && body[i + 1] === '|') {
      cell += inCode ? '|' : '\\|';
      i += 1;
    } else if (ch === '`') {
      inCode = !inCode;
      cell += ch;
    } else if (ch === '|' && !inCode) {
      cells.push(cell.trim());
      cell = '';
    } else {
      cell += ch;
    }
  }
  cells.push(cell.trim());
  return cells;
}

const SEPARATOR = /^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$/;
const LIST_ITEM = /^( *)[-*+] (.*)$/;
const SUMMARY = /^<summary>(.*)<\/summary>$/;

export function parseMarkdown(source: string): Block[] {
  const lines = source.replace(/\r\n?/g, '\n').split('\n');
  const root: Block[] = [];
  // Open <details> sections, innermost last; blocks go into the innermost.
  const stack: { type: 'details'; summary: Inline[]; children: Block[] }[] = [];
  const target = (): Block[] => stack[stack.length - 1]?.children ?? root;
  let paragraph: string[] = [];
  const endParagraph = (): void => {
    if (paragraph.length > 0) target().push({ type: 'paragraph', children: parseInline(paragraph.join(' ')) });
    paragraph = [];
  };

  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i] as string;
    const trimmed = line.trim();
    if (trimmed === '') {
      endParagraph();
      continue;
    }
    if (trimmed === '<details>') {
      endParagraph();
      const section = { type: 'details' as const, summary: [] as Inline[], children: [] as Block[] };
      target().push(section);
      stack.push(section);
      continue;
    }
    if (trimmed === '</details>' && stack.length > 0) {
      endParagraph();
      stack.pop();
      continue;
    }
    const summary = SUMMARY.exec(trimmed);
    if (summary && stack.length > 0 && (stack[stack.length - 1] as { summary: Inline[] }).summary.length === 0) {
      endParagraph();
      (stack[stack.length - 1] as { summary: Inline[] }).summary = parseInline(summary[1] as string);
      continue;
    }
    if (trimmed.startsWith('```')) {
      endParagraph();
      const code: string[] = [];
      i += 1;
      while (i < lines.length && !(lines[i] as string).trim().startsWith('```')) code.push(lines[i++] as string);
      target().push({ type: 'code', text: code.join('\n') });
      continue;
    }
    const heading = /^(#{1,6}) (.*)$/.exec(trimmed);
    if (heading) {
      endParagraph();
      target().push({ type: 'heading', level: (heading[1] as string).length, children: parseInline(heading[2] as string) });
      continue;
    }
    if (trimmed.startsWith('|') && SEPARATOR.test((lines[i + 1] ?? '').trim())) {
      endParagraph();
      const head = tableCells(trimmed);
      const align: Align[] = tableCells((lines[i + 1] as string).trim()).map((c) =>
        c.startsWith(':') && c.endsWith(':') ? 'center' : c.endsWith(':') ? 'right' : c.startsWith(':') ? 'left' : null,
      );
      i += 2;
      const rows: Inline[][][] = [];
      while (i < lines.length && (lines[i] as string).trim().startsWith('|')) {
        rows.push(tableCells((lines[i] as string).trim()).map(parseInline));
        i += 1;
      }
      i -= 1;
      target().push({ type: 'table', align, head: head.map(parseInline), rows });
      continue;
    }
    if (LIST_ITEM.test(line)) {
      endParagraph();
      // Consecutive items; two spaces of indent nest one level.
      const top: ListItem[] = [];
      const levels: ListItem[][] = [top];
      while (i < lines.length) {
        const match = LIST_ITEM.exec(lines[i] as string);
        if (!match) break;
        const depth = Math.min(Math.floor((match[1] as string).length / 2), levels.length - 1);
        levels.length = depth + 1;
        const item: ListItem = { children: parseInline(match[2] as string), items: [] };
        (levels[depth] as ListItem[]).push(item);
        levels.push(item.items);
        i += 1;
      }
      i -= 1;
      target().push({ type: 'list', items: top });
      continue;
    }
    paragraph.push(trimmed);
  }
  endParagraph();
  return root;
}

/** All the text of a tree, in order (tests, and the plan's accessible summary). */
export function plainText(blocks: Block[]): string {
  const inline = (nodes: Inline[]): string => nodes.map((n) => (n.type === 'strong' ? inline(n.children) : n.text)).join('');
  const items = (list: ListItem[]): string => list.map((item) => `${inline(item.children)}\n${items(item.items)}`).join('');
  return blocks
    .map((b) => {
      switch (b.type) {
        case 'paragraph':
        case 'heading':
          return inline(b.children) + '\n';
        case 'list':
          return items(b.items);
        case 'table':
          return [b.head, ...b.rows].map((row) => row.map(inline).join(' | ')).join('\n') + '\n';
        case 'code':
          return b.text + '\n';
        case 'details':
          return inline(b.summary) + '\n' + plainText(b.children);
      }
    })
    .join('');
}
